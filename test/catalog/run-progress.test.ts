import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CatalogDatabase, createCatalogDatabase, one } from './catalog-fixture.js';

let catalog: CatalogDatabase;
let sql: pg.Client;

beforeAll(async () => {
  catalog = await createCatalogDatabase('catalog_progress');
  sql = catalog.admin;
  await sql.query(`SELECT * FROM procgate.create_procedure(name => 'naps', language => 'command', command => 'sleep',
                                                           args => ARRAY['30'])`);
});

afterAll(async () => {
  await catalog.close();
});

/**
 * A run's progress and rows as the engine's operations roll them up: each
 * segment claimed by worker "w" (no engine runs here), then reported and
 * completed by hand, as an engine would.
 */
describe("a run's progress and rows", () => {
  async function claimedRun(segments: number): Promise<string> {
    const { run_id: runId } = await one(
      sql,
      `SELECT run_id FROM procgate.execute('naps', options => ARRAY[procgate.arg('segments', NULL, ${String(segments)})])`,
    );
    const claimed = await sql.query(
      `SELECT * FROM procgate_internal.engine_claim('w', $1, interval '1 hour', ARRAY['command'])`,
      [segments],
    );
    expect(claimed.rowCount).toBe(segments);
    return runId as string;
  }

  type Count = number | null;
  const report = (runId: string, segment: number, progress: number | null, rowsIn: Count, rowsOut: Count) =>
    sql.query(
      `SELECT procgate_internal.engine_report('w', $1, $2, 1, $3, $4, NULL, NULL, $5)`,
      [runId, segment, progress, rowsIn, rowsOut],
    );

  const complete = (runId: string, segment: number, state: string, idle = false, progress: number | null = null) =>
    sql.query(
      `SELECT procgate_internal.engine_complete('w', $1, $2, 1, $3, NULL, NULL, NULL, NULL,
                                                p_idle => $4, p_progress => $5)`,
      [runId, segment, state, idle, progress],
    );

  const run = async (runId: string) =>
    one(sql, 'SELECT state, progress::text, rows_in::text, rows_out::text FROM procgate.runs WHERE run_id = $1', [runId]);

  it('counts a segment that had nothing to do as no share of the work', async () => {
    // A training run: segment 0 does all the work, segment 1 has nothing to do.
    const runId = await claimedRun(2);
    await complete(runId, 1, 'succeeded', true);
    await report(runId, 0, 0.05, 200_000, null);
    // Not 0.525: the idle segment is not half the work.
    expect(await run(runId)).toMatchObject({ state: 'running', progress: '0.05', rows_in: '200000' });
    await complete(runId, 0, 'succeeded');
    expect(await run(runId)).toMatchObject({ state: 'succeeded', progress: '1', rows_in: '200000' });
  });

  it('weighs the other segments equally while they go on', async () => {
    const runId = await claimedRun(3);
    await complete(runId, 0, 'succeeded');
    await report(runId, 1, 0.5, null, null);
    expect(await run(runId)).toMatchObject({ progress: '0.5' });
  });

  it('keeps the progress a failed run reached, with the figures it had not reported yet', async () => {
    const runId = await claimedRun(2);
    await report(runId, 0, 0.2, 10, 4);
    expect(await run(runId)).toMatchObject({ progress: '0.1', rows_in: '10', rows_out: '4' });
    await complete(runId, 0, 'failed', false, 0.6);
    await complete(runId, 1, 'succeeded');
    // Not 1: half the work was done, the other half got to 60 %.
    expect(await run(runId)).toMatchObject({ state: 'failed', progress: '0.8', rows_in: '10', rows_out: '4' });
  });

  it('keeps the progress a killed run reached, 0 for segments that never started', async () => {
    const runId = await claimedRun(2);
    await report(runId, 0, 0.5, null, null);
    await sql.query('SELECT * FROM procgate.kill_run($1)', [runId]);
    await complete(runId, 0, 'killed');
    await complete(runId, 1, 'killed');
    expect(await run(runId)).toMatchObject({ state: 'killed', progress: '0.25' });
  });

  it('is done when every segment was idle and succeeded', async () => {
    const runId = await claimedRun(1);
    await complete(runId, 0, 'succeeded', true);
    expect(await run(runId)).toMatchObject({ state: 'succeeded', progress: '1' });
  });
});
