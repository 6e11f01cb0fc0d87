import type pg from 'pg';
import { lex, TokenKind } from '../sql/lexer.js';
import { executeAsRole } from '../engine/as-caller.js';
import type { ProcedureType } from '../engine/procedure-type.js';

/** Rows of the last statement kept in the run's results. */
const MAX_RESULT_ROWS = 1000;

/**
 * `sql` (Kinetica's SQL procedures): `statements` run in order as the
 * caller, each committed on its own; the first error stops the run and the
 * statements before it stay committed. The rows of the last statement (a
 * query: SELECT, VALUES, TABLE, WITH) become the run's results, the first
 * MAX_RESULT_ROWS of them. Rows count live as each statement commits: a
 * query's rows as read (rows_in), any other statement's rows (INSERT,
 * UPDATE, DELETE, COPY, CREATE TABLE AS) as written (rows_out).
 */
export const sqlStatements: ProcedureType = {
  name: 'sql',
  summary: 'runs SQL statements in order as the caller; the last one\'s rows become the results',
  parameters: [
    { name: 'statements', kind: 'text[]', required: true, description: 'the statements, run in order' },
  ],
  async run(context) {
    const statements = context.params['statements'] as string[];
    let rows: unknown[] | undefined;
    let affected = 0;
    let read = 0;
    let written = 0;
    for (const [index, statement] of statements.entries()) {
      if (context.signal.aborted) throw new Error('killed');
      const query = isQuery(statement);
      const last = index === statements.length - 1;
      const client = await context.pool.connect();
      const cancel = new StatementCancel(context.pool, client);
      context.signal.addEventListener('abort', cancel.handler, { once: true });
      try {
        await cancel.ready;
        if (context.signal.aborted) throw new Error('killed');
        await client.query('BEGIN');
        if (last && query) {
          await executeAsRole(client, context.role, `CREATE TEMP TABLE procgate_sql_result ON COMMIT DROP AS ${statement}`);
          const result = await client.query<{ rows: unknown[] | null; n: string }>(
            `SELECT (SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(r))
                       FROM (SELECT * FROM pg_temp.procgate_sql_result LIMIT ${String(MAX_RESULT_ROWS)}) r) AS rows,
                    (SELECT pg_catalog.count(*) FROM pg_temp.procgate_sql_result) AS n`,
          );
          rows = result.rows[0]?.rows ?? [];
          affected = Number(result.rows[0]?.n ?? 0);
        } else {
          affected = await executeAsRole(client, context.role, statement);
        }
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new Error(`statement ${String(index + 1)} failed: ${(error as Error).message}`, { cause: error });
      } finally {
        context.signal.removeEventListener('abort', cancel.handler);
        // A cancel still on its way must not reach whoever uses the connection next.
        client.release(cancel.sent);
      }
      if (query) read += affected;
      else written += affected;
      context.report({ kind: 'rows', read, written });
      context.report({ kind: 'progress', fraction: (index + 1) / statements.length });
    }
    return {
      rowsIn: read,
      rowsOut: written,
      results: { statements: statements.length, row_count: affected, ...(rows === undefined ? {} : { rows }) },
    };
  },
};

/**
 * A kill or the run's timeout cancels the statement under way, as Ctrl-C
 * in psql would, instead of waiting for it to end: the statement then
 * fails with 57014 and the segment ends killed or timed out.
 */
class StatementCancel {
  sent = false;
  private pid: number | undefined;
  readonly ready: Promise<void>;

  constructor(
    private readonly pool: pg.Pool,
    client: pg.PoolClient,
  ) {
    this.ready = client.query<{ pid: number }>('SELECT pg_catalog.pg_backend_pid() AS pid').then(({ rows }) => {
      this.pid = rows[0]?.pid;
    });
  }

  readonly handler = (): void => {
    if (this.pid === undefined) return;
    this.sent = true;
    this.pool.query('SELECT pg_catalog.pg_cancel_backend($1)', [this.pid]).catch(() => undefined);
  };
}

/** Whether a statement returns rows we can keep: a query, by its first word. */
function isQuery(statement: string): boolean {
  const first = lex(statement).find((token) => token.kind !== TokenKind.Comment);
  return first !== undefined && ['select', 'values', 'table', 'with'].includes(first.value ?? '');
}
