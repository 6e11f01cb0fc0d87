import type pg from 'pg';
import type { ReturnColumn } from '../catalog/index.js';
import { SqlState } from '../errors/sqlstate.js';
import { canonicalTypes, executeAsRole } from './as-caller.js';
import type { PlannedInput, ResolvedOutput } from './planned-tables.js';
import { RunError } from './run-error.js';
import type { TableColumn } from './segment-task.js';
import type { DataRun } from './sql/lock-data-run.js';

/**
 * The columns of a run's INTO table in `position` that does not exist, when
 * its procedure's type can tell them (ProcedureType.outputColumns), else
 * undefined.
 */
export type DescribeOutput = (
  client: pg.ClientBase,
  run: DataRun,
  position: number,
) => Promise<readonly ReturnColumn[] | undefined>;

/**
 * Each INTO table, looked up with the caller's rights and search path; a
 * missing one is created by the caller with the columns of RETURNS TABLE,
 * or else of the input in the same position, or else those the
 * procedure's type describes (import.csv: the file's header).
 */
export async function resolveOutputs(
  client: pg.ClientBase,
  run: DataRun,
  staged: readonly PlannedInput[],
  describeOutput: DescribeOutput | undefined,
): Promise<ResolvedOutput[]> {
  const outputs: ResolvedOutput[] = [];
  for (const [index, name] of run.output_tables.entries()) {
    const quoted = await quotedName(client, name);
    if ((await lookUp(client, run.submitted_by, quoted)) === null) {
      const columns = run.returns ?? staged[index]?.columns ?? (await describeOutput?.(client, run, index));
      if (columns === undefined) {
        throw new RunError(
          `INTO table "${name}" does not exist, and there is neither RETURNS TABLE nor a TABLE argument in position ${String(index + 1)} to create it from`,
          SqlState.undefinedTable,
        );
      }
      const types = await canonicalTypes(client, columns.map((column) => column.type));
      const list = columns.map((column, i) => `${client.escapeIdentifier(column.name)} ${types[i]!}`).join(', ');
      await executeAsRole(client, run.submitted_by, `CREATE TABLE IF NOT EXISTS ${quoted} (${list})`);
    }
    const table = await lookUp(client, run.submitted_by, quoted);
    if (table === null) throw new RunError(`INTO table "${name}" could not be created`, SqlState.undefinedTable);
    const columns = (await tableColumns(client, table)).filter((column) => !column.generated);
    outputs.push({ name, table, columns: columns.map(({ name: n, type, typeOid }) => ({ name: n, type, typeOid })) });
  }
  return outputs;
}

/** A table name as written, quoted part by part; anything else is an error. */
async function quotedName(client: pg.ClientBase, name: string): Promise<string> {
  const { rows } = await client.query<{ parts: string[] }>('SELECT pg_catalog.parse_ident($1) AS parts', [name]);
  return (rows[0]?.parts ?? []).map((part) => client.escapeIdentifier(part)).join('.');
}

/**
 * The qualified name a table name means to `role` (its search path, its
 * `$user`), or null. to_regclass runs no user code, so a plain SET ROLE
 * is enough here.
 */
async function lookUp(client: pg.ClientBase, role: string, quoted: string): Promise<string | null> {
  // After an error the transaction rolls back, and the role with it.
  await client.query(`SET LOCAL ROLE ${client.escapeIdentifier(role)}`);
  const { rows } = await client.query<{ oid: number | null }>('SELECT pg_catalog.to_regclass($1)::oid AS oid', [quoted]);
  await client.query('RESET ROLE');
  const oid = rows[0]?.oid ?? null;
  if (oid === null) return null;
  const named = await client.query<{ name: string }>(
    `SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) AS name
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1`,
    [oid],
  );
  return named.rows[0]?.name ?? null;
}

type CatalogColumn = TableColumn & { generated: boolean };

export async function tableColumns(client: pg.ClientBase, table: string): Promise<CatalogColumn[]> {
  const { rows } = await client.query<{ name: string; type: string; type_oid: number; generated: boolean }>(
    `SELECT a.attname AS name, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, a.atttypid::int AS type_oid,
            a.attgenerated <> '' AS generated
       FROM pg_catalog.pg_attribute a
      WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [table],
  );
  return rows.map((row) => ({ name: row.name, type: row.type, typeOid: row.type_oid, generated: row.generated }));
}
