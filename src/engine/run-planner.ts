import type pg from 'pg';
import type { InputQuery } from '../catalog/index.js';
import type { Logger } from '../log/logger.js';
import { canonicalTypes, executeAsRole, type TypedArgument } from './as-caller.js';
import { mayReadDirectly, planDirectRead } from './direct-input.js';
import type { HeldSnapshot, InputSnapshots } from './input-snapshots.js';
import type { PlannedInput, StagedInput } from './planned-tables.js';
import { withLiterals } from './query-literals.js';
import { type DescribeOutput, resolveOutputs, tableColumns } from './resolve-outputs.js';
import { isRunError } from './run-error.js';
import type { ClaimedSegment } from './sql/claim-segments.js';
import { claimPlannedRun } from './sql/claim-planned-run.js';
import { dataRunWaiting, type DataRun, lockDataRun } from './sql/lock-data-run.js';
import { failRunPlanning, recordRunPlan } from './sql/record-run-plan.js';
import { sqlStateOf } from './sql-state.js';

export type { PlannedInput, ResolvedOutput, StagedInput } from './planned-tables.js';
export type { DescribeOutput } from './resolve-outputs.js';

/** The column that says a partitioned input row's segment. */
const SEGMENT_COLUMN = 'procgate_segment';

/**
 * What planning needs for inputs read directly: the engine's snapshots,
 * and a claim of the run's segments for this engine (a snapshot dies with
 * the engine that holds it, so only it runs the segments that read it).
 */
export interface DirectPlanning {
  readonly snapshots: InputSnapshots;
  readonly workerId: string;
  readonly leaseMs: number;
  /** Starts a segment claimed while its run was planned. */
  readonly begin: (row: ClaimedSegment) => void;
}

/**
 * Plans queued distributed runs that have table data, one transaction per
 * run: plans each TABLE input as the caller, resolves and if needed
 * creates the INTO tables as the caller, then gives the run its segments.
 * An input is read by its segments straight from its source under a
 * snapshot this engine exports for the run (see direct-input.ts for
 * which; only when all of the run's segments fit in the `max` free slots,
 * as they are claimed here and then), or else staged: read into a table
 * now, in one statement, so every segment reads the same rows. A run
 * whose inputs or outputs fail (a permission, a query error) fails with
 * PostgreSQL's message. Returns how many runs were planned.
 */
export async function planDataRuns(
  pool: pg.Pool,
  defaultSegments: number,
  max: number,
  logger: Logger,
  describeOutput?: DescribeOutput,
  direct?: DirectPlanning,
): Promise<number> {
  if (!(await dataRunWaiting(pool))) return 0;
  let planned = 0;
  let freeSlots = max;
  while (planned < max) {
    const client = await pool.connect();
    let runId: string | undefined;
    const snapshot: { held?: HeldSnapshot } = {};
    try {
      await client.query('BEGIN');
      const run = await lockDataRun(client);
      if (run === undefined) {
        await client.query('COMMIT');
        return planned;
      }
      runId = run.run_id;
      const exportSnapshot =
        direct === undefined
          ? undefined
          : async (): Promise<string | undefined> => {
            snapshot.held ??= await direct.snapshots.export();
            return snapshot.held?.id;
          };
      const { segments, staged } = await planInputs(client, run, defaultSegments, freeSlots, exportSnapshot);
      const outputs = await resolveOutputs(client, run, staged, describeOutput);
      await recordRunPlan(client, run.run_id, segments, staged, outputs);
      const claimed =
        direct === undefined || snapshot.held === undefined
          ? []
          : await claimPlannedRun(client, direct.workerId, run.run_id, direct.leaseMs);
      await client.query('COMMIT');
      snapshot.held?.keep(run.run_id);
      const directInputs = staged.filter((input) => input.kind === 'direct').length;
      logger.info({ run_id: run.run_id, segments, direct_inputs: directInputs }, 'run planned');
      planned += 1;
      freeSlots -= claimed.length;
      for (const row of claimed) direct?.begin(row);
      // Its segments wait in the queue: a later run must not take the slots before them, so the round ends
      // here; they are claimed in order, and the next round plans on.
      if (claimed.length === 0 && segments > 0) return planned;
    } catch (error) {
      snapshot.held?.release();
      await client.query('ROLLBACK').catch(() => undefined);
      if (runId === undefined || !isRunError(error)) throw error;
      logger.info({ run_id: runId, err: error }, 'run failed while reading its inputs or preparing its outputs');
      await failRunPlanning(pool, runId, error.message, sqlStateOf(error));
    } finally {
      client.release();
    }
  }
  return planned;
}

/**
 * Plans each TABLE input: the partitioned ones are staged first (they
 * give the run its segments), then each other one is read directly when
 * the run and the query allow it, this engine has a slot for each of its
 * segments and a snapshot can be had; else it is staged.
 */
async function planInputs(
  client: pg.ClientBase,
  run: DataRun,
  defaultSegments: number,
  freeSlots: number,
  exportSnapshot: (() => Promise<string | undefined>) | undefined,
): Promise<{ segments: number; staged: PlannedInput[] }> {
  const planned: PlannedInput[] = [];
  const partitioned: StagedInput[] = [];
  const reads = run.input_queries.map((input, index) => ({
    index,
    // Run once, a nondistributed procedure reads all of each input, partitions or not.
    input: run.execution_mode === 'nondistributed' ? { ...input, partition_by: [] } : input,
  }));
  for (const { index, input } of reads.filter((read) => read.input.partition_by.length > 0)) {
    const staged = await stageInput(client, run, input, index);
    planned[index] = staged;
    partitioned.push(staged);
  }
  const segments = await segmentCount(client, run, defaultSegments, partitioned);
  const direct = exportSnapshot !== undefined && segments <= freeSlots && mayReadDirectly(run);
  for (const { index, input } of reads.filter((read) => read.input.partition_by.length === 0)) {
    const read = direct ? await planDirectRead(client, run.submitted_by, input, segments) : undefined;
    const snapshot = read === undefined ? undefined : await exportSnapshot?.();
    planned[index] =
      read === undefined || snapshot === undefined
        ? await stageInput(client, run, input, index)
        : { ...read, name: inputName(input, index), snapshot };
  }
  return { segments, staged: planned };
}

/** A nondistributed run has one segment; else one per partition, or the `segments` option, or the default. */
async function segmentCount(
  client: pg.ClientBase,
  run: DataRun,
  defaultSegments: number,
  partitioned: readonly StagedInput[],
): Promise<number> {
  // A nondistributed procedure (a built-in type's) runs once, over all of its input.
  if (run.execution_mode === 'nondistributed') return 1;
  if (partitioned.length === 0) {
    const option = run.options['segments']?.value;
    return typeof option === 'number' ? option : defaultSegments;
  }
  // One segment per partition; with several partitioned inputs, as many as the largest count.
  let segments = 1;
  for (const input of partitioned) {
    const { rows } = await client.query<{ n: number }>(
      `SELECT coalesce(max(${SEGMENT_COLUMN}) + 1, 0)::int AS n FROM procgate_staging.${client.escapeIdentifier(input.table)}`,
    );
    segments = Math.max(segments, rows[0]?.n ?? 0);
    await client.query(
      `CREATE INDEX ON procgate_staging.${client.escapeIdentifier(input.table)} (${SEGMENT_COLUMN})`,
    );
  }
  return segments;
}

function inputName(input: InputQuery, index: number): string {
  return input.name ?? `input${String(index + 1)}`;
}

/**
 * Reads one TABLE input into `procgate_staging.x`, as the caller:
 * PostgreSQL checks the caller's privileges on what the query reads. The
 * caller first describes the query (`CREATE TEMP TABLE ... WITH NO DATA`
 * runs nothing); the engine makes the staging table from that shape and
 * lets the caller INSERT into that one table for this transaction. Grants
 * on the table alone, never on the schema: concurrent GRANTs on one schema
 * fail ("tuple concurrently updated"), so engines would have to plan one
 * run at a time.
 */
async function stageInput(
  client: pg.ClientBase,
  run: DataRun,
  input: InputQuery,
  index: number,
): Promise<StagedInput> {
  const table = `in_${run.run_id.replaceAll('-', '')}_${String(index)}`;
  const target = `procgate_staging.${client.escapeIdentifier(table)}`;
  const partitioned = input.partition_by.length > 0;
  const keys = input.partition_by.map((key) => `(${key})`).join(', ');
  const query = withLiterals(client, input);
  const select = partitioned
    ? `SELECT q.*, (pg_catalog.dense_rank() OVER (ORDER BY ${keys}) - 1)::int AS ${SEGMENT_COLUMN} FROM (${query}) AS q`
    : `SELECT q.* FROM (${query}) AS q`;
  const role = client.escapeIdentifier(run.submitted_by);
  const args = await placeholderArguments(client, input);
  const shape = `pg_temp.${client.escapeIdentifier(`${table}_shape`)}`;
  await executeAsRole(client, run.submitted_by, `CREATE TEMP TABLE ${shape.slice('pg_temp.'.length)} AS ${select} WITH NO DATA`, args);
  await client.query(`CREATE UNLOGGED TABLE ${target} (LIKE ${shape})`);
  await client.query(`DROP TABLE ${shape}`);
  await client.query(`GRANT INSERT ON ${target} TO ${role}`);
  await executeAsRole(client, run.submitted_by, `INSERT INTO ${target} ${select}`, args);
  await client.query(`REVOKE INSERT ON ${target} FROM ${role}`);
  const all = await tableColumns(client, target);
  const columns = all.filter((column) => !partitioned || column.name !== SEGMENT_COLUMN);
  const { rows } = await client.query<{ blocks: number }>(
    `SELECT (pg_catalog.pg_relation_size($1::regclass) / pg_catalog.current_setting('block_size')::int)::int AS blocks`,
    [target],
  );
  return { kind: 'staged', name: inputName(input, index), table, partitioned, blocks: rows[0]?.blocks ?? 0, columns };
}

/**
 * `$1..$n` of a TABLE query as typed arguments. A number the query skips,
 * and one whose value came untyped (`unknown`, from CALL), is declared
 * text and left unused: the untyped ones are written into the query as
 * literals instead (see withLiterals).
 */
async function placeholderArguments(client: pg.ClientBase, input: InputQuery): Promise<TypedArgument[]> {
  const numbers = Object.keys(input.placeholders).map(Number);
  const count = numbers.length === 0 ? 0 : Math.max(...numbers);
  const given = Array.from({ length: count }, (_, index) => input.placeholders[String(index + 1)]);
  const typed = given.map((value) => (value === undefined || value.type === 'unknown' ? undefined : value));
  const types = await canonicalTypes(client, typed.map((value) => value?.type ?? 'text'));
  return typed.map((value, index) => ({ type: types[index]!, value: value?.value ?? null }));
}
