import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CompletionBatcher } from '../../src/engine/completion-batcher.js';
import type { SegmentEnd } from '../../src/engine/sql/complete-segment.js';
import { silentLogger } from '../../src/log/logger.js';
import { type CatalogDatabase, createCatalogDatabase, one } from './catalog-fixture.js';

let catalog: CatalogDatabase;
let sql: pg.Client;

beforeAll(async () => {
  catalog = await createCatalogDatabase('catalog_batches');
  sql = catalog.admin;
  await sql.query(`SELECT * FROM procgate.create_procedure(name => 'naps', language => 'command', command => 'sleep',
                                                           args => ARRAY['30'])`);
  await sql.query(`SELECT * FROM procgate.create_procedure(name => 'capped', language => 'command', command => 'sleep',
                     args => ARRAY['30'], options => ARRAY[procgate.arg('max_concurrency_per_node', NULL, 2)])`);
});

afterAll(async () => {
  await catalog.close();
});

// Each test starts from an empty queue.
afterEach(async () => {
  await sql.query('SELECT * FROM procgate.kill_runs()');
  await sql.query(`UPDATE procgate_internal.runs SET state = 'killed' WHERE state = 'cancelling'`);
});

async function queue(procedure: string, runs: number, segments = 1): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < runs; i += 1) {
    const row = await one(
      sql,
      `SELECT run_id FROM procgate.execute($1, options => ARRAY[procgate.arg('segments', NULL, ${String(segments)})])`,
      [procedure],
    );
    ids.push(row.run_id as string);
  }
  return ids;
}

const claim = (worker: string, free: number, ahead: number) =>
  sql.query<{ run_id: string; segment: number; attempt: number; setup_key: string }>(
    `SELECT * FROM procgate_internal.engine_claim($1, $2, interval '1 hour', ARRAY['command'], $3)`,
    [worker, free, ahead],
  );

describe('claiming a batch (engine_claim)', () => {
  it('plans a run without table data at EXECUTE: its segments are queued when it commits', async () => {
    const [runId] = await queue('naps', 1, 3);
    const { rows } = await sql.query('SELECT segment, state FROM procgate_internal.run_segments WHERE run_id = $1 ORDER BY segment', [runId]);
    expect(rows).toEqual([0, 1, 2].map((segment) => ({ segment, state: 'queued' })));
    expect(await one(sql, 'SELECT segments_total FROM procgate_internal.runs WHERE run_id = $1', [runId])).toEqual({
      segments_total: 3,
    });
  });

  it('takes the free slots and, to queue ahead, more one-segment runs', async () => {
    await queue('naps', 6);
    const { rows } = await claim('w1', 2, 3);
    expect(rows).toHaveLength(5);
    expect(new Set(rows.map((row) => row.attempt))).toEqual(new Set([1]));
  });

  it('honours max_concurrency_per_node over the whole batch, counting what the worker holds', async () => {
    await queue('capped', 5);
    expect((await claim('w2', 1, 10)).rows).toHaveLength(2);
    // It holds two already: no more of that procedure.
    expect((await claim('w2', 1, 10)).rows).toHaveLength(0);
    // Another worker has its own two.
    expect((await claim('w3', 4, 0)).rows).toHaveLength(2);
  });

  it("queues no distributed run's segments ahead: they are for engines with free slots", async () => {
    await queue('naps', 1, 4);
    expect((await claim('w4', 1, 10)).rows).toHaveLength(1);
    expect((await claim('w5', 0, 10)).rows).toHaveLength(0);
    expect((await claim('w5', 3, 0)).rows).toHaveLength(3);
  });

  it('hands back segments a worker never started, at the attempt they had (engine_release)', async () => {
    const [runId] = await queue('naps', 1);
    const [row] = (await claim('w6', 1, 0)).rows;
    expect(row?.attempt).toBe(1);
    const released = await one(
      sql,
      `SELECT procgate_internal.engine_release('w6', ARRAY[$1]::uuid[], ARRAY[0], ARRAY[1]) AS n`,
      [runId],
    );
    expect(released).toEqual({ n: 1 });
    expect(
      await one(sql, 'SELECT state, attempt, worker, lease_until FROM procgate_internal.run_segments WHERE run_id = $1', [runId]),
    ).toEqual({ state: 'queued', attempt: 0, worker: null, lease_until: null });
    expect((await claim('w7', 1, 0)).rows.map((r) => [r.run_id, r.attempt])).toEqual([[runId, 1]]);
  });

  it('names the version of the files and environment: replacing the procedure changes it', async () => {
    await queue('naps', 1);
    const [before] = (await claim('w8', 1, 0)).rows;
    await sql.query(`SELECT * FROM procgate.create_procedure(name => 'naps', language => 'command', command => 'sleep',
                                                             args => ARRAY['30'], or_replace => true)`);
    await queue('naps', 1);
    const [after] = (await claim('w8', 1, 0)).rows;
    expect(before?.setup_key).toMatch(/^\d+:\d+$/);
    expect(after?.setup_key).not.toBe(before?.setup_key);
  });
});

describe('recording ends in a batch (engine_complete_batch)', () => {
  const succeeded = (line: string): SegmentEnd => ({
    state: 'succeeded',
    exit_code: 0,
    message: null,
    results: { said: line },
    output: [{ stream: 'stdout', line_no: 1, line }],
    rows_in: null,
    rows_out: null,
    error_code: null,
    idle: false,
    progress: null,
  });

  it('records the ends still fenced by their claims, and not one whose claim was lost', async () => {
    const runIds = await queue('naps', 3);
    const claimed = (await claim('w9', 3, 0)).rows;
    expect(claimed).toHaveLength(3);
    // The third was swept and claimed again elsewhere meanwhile: its attempt 1 is fenced out.
    await sql.query(
      `UPDATE procgate_internal.run_segments SET attempt = 2, worker = 'other' WHERE run_id = $1`,
      [runIds[2]],
    );
    const batcher = new CompletionBatcher({ db: sql, workerId: 'w9', logger: silentLogger() });
    const recorded = await Promise.all(
      runIds.map((runId, i) => batcher.complete({ run_id: runId, segment: 0, attempt: 1 }, succeeded(`run ${String(i)}`))),
    );
    expect(recorded).toEqual([true, true, false]);
    type Row = { run_id: string; state: string; done: boolean; results: unknown; lines: string[] | null };
    const { rows } = await sql.query<Row>(
      `SELECT r.run_id, r.state, r.finished_at IS NOT NULL AS done, r.results,
              (SELECT array_agg(o.line) FROM procgate_internal.run_output o WHERE o.run_id = r.run_id) AS lines
         FROM procgate_internal.runs r WHERE r.run_id = ANY ($1)`,
      [runIds],
    );
    const byId = new Map(rows.map((row) => [row.run_id, row]));
    expect(byId.get(runIds[0]!)).toMatchObject({ state: 'succeeded', done: true, results: { 0: { said: 'run 0' } }, lines: ['run 0'] });
    expect(byId.get(runIds[1]!)).toMatchObject({ state: 'succeeded', done: true, lines: ['run 1'] });
    expect(byId.get(runIds[2]!)).toMatchObject({ state: 'running', done: false, results: null, lines: null });
    expect(
      await one(sql, 'SELECT state, worker FROM procgate_internal.run_segments WHERE run_id = $1', [runIds[2]]),
    ).toEqual({ state: 'running', worker: 'other' });
  });

  it("records the other ends of a batch when one end cannot be stored (a NUL in a program's output)", async () => {
    const runIds = await queue('naps', 2);
    expect((await claim('w11', 2, 0)).rows).toHaveLength(2);
    const batcher = new CompletionBatcher({ db: sql, workerId: 'w11', logger: silentLogger() });
    const settled = await Promise.allSettled([
      batcher.complete({ run_id: runIds[0]!, segment: 0, attempt: 1 }, succeeded('nul \u0000 here')),
      batcher.complete({ run_id: runIds[1]!, segment: 0, attempt: 1 }, succeeded('fine')),
    ]);
    expect(settled[1]).toEqual({ status: 'fulfilled', value: true });
    expect(await one(sql, 'SELECT state FROM procgate_internal.runs WHERE run_id = $1', [runIds[1]])).toEqual({
      state: 'succeeded',
    });
  });

  it('rolls a run of several segments up once all have ended, the first failure its error', async () => {
    const [runId] = await queue('naps', 1, 3);
    expect((await claim('w10', 3, 0)).rows).toHaveLength(3);
    const batcher = new CompletionBatcher({ db: sql, workerId: 'w10', logger: silentLogger() });
    const failed: SegmentEnd = { ...succeeded('no'), state: 'failed', exit_code: 1, message: 'boom', results: null, error_code: 'P0001' };
    expect(
      await Promise.all([
        batcher.complete({ run_id: runId!, segment: 0, attempt: 1 }, succeeded('a')),
        batcher.complete({ run_id: runId!, segment: 1, attempt: 1 }, failed),
      ]),
    ).toEqual([true, true]);
    expect(await one(sql, 'SELECT state, segments_succeeded, segments_failed FROM procgate_internal.runs WHERE run_id = $1', [runId])).toEqual({
      state: 'running',
      segments_succeeded: 1,
      segments_failed: 1,
    });
    expect(await batcher.complete({ run_id: runId!, segment: 2, attempt: 1 }, succeeded('c'))).toBe(true);
    expect(
      await one(sql, 'SELECT state, error, error_code, finished_at IS NOT NULL AS done FROM procgate_internal.runs WHERE run_id = $1', [runId]),
    ).toEqual({ state: 'failed', error: 'boom', error_code: 'P0001', done: true });
  });
});
