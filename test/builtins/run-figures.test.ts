import { describe, expect, it } from 'vitest';
import { useEngine } from '../support/engine-fixture.js';
import { eventually, useProxiedDatabase } from '../support/test-database.js';

const t = useProxiedDatabase('builtins_run_figures', { statements: true });

interface RunRow {
  state: string;
  error: string | null;
  progress: string;
  rows_in: string;
  rows_out: string;
}

const fixture = useEngine<RunRow>(t);
const { execute, finished, query } = fixture;

interface SegmentRow {
  segment: number;
  state: string;
  rows_in: string;
  rows_out: string;
  idle: boolean;
}

/** Segments as procgate_internal keeps them: the view does not show `idle`. */
async function segments(runId: string): Promise<SegmentRow[]> {
  return query<SegmentRow>(
    `SELECT segment, state, rows_in::text, rows_out::text, idle FROM procgate_internal.run_segments
      WHERE run_id = $1 ORDER BY segment`,
    [runId],
  );
}

/**
 * rows_in and rows_out of built-in types count the rows a run read and
 * wrote (its INTO tables), live, on its segments and the run; a segment
 * with nothing to do is no share of the run's progress.
 */
describe('the rows and progress of built-in types', () => {
  it('counts the rows a training run read, and no INTO rows for its model; its idle segment is no share', async () => {
    await fixture.client.query(
      `CREATE TABLE points AS SELECT g AS id, (g % 7)::float8 AS x, (g % 5)::float8 AS y, (g % 2)::text AS label
         FROM generate_series(1, 3000) g`,
    );
    await fixture.client.query("CREATE PROCEDURE train TYPE 'classifier.train'");
    const runId = await execute(
      `EXECUTE PROCEDURE train(training_data => TABLE (SELECT x, y, label FROM points), label => 'label',
         model_name => 'points_tree', algorithm => 'decision_tree') WITH (segments = 2)`,
    );
    expect(await finished(runId)).toMatchObject({ state: 'succeeded', progress: '1', rows_in: '3000', rows_out: '0' });
    expect(await segments(runId)).toEqual([
      { segment: 0, state: 'succeeded', rows_in: '3000', rows_out: '0', idle: false },
      { segment: 1, state: 'succeeded', rows_in: '0', rows_out: '0', idle: true },
    ]);
  });

  it('counts the rows classifier.test read, and the confusion matrix rows it wrote', async () => {
    await fixture.client.query("CREATE PROCEDURE evaluate TYPE 'classifier.test' RETURNS TABLE (actual text, predicted text, n bigint)");
    const runId = await execute(
      `EXECUTE PROCEDURE evaluate(model_name => 'points_tree', test_data => TABLE (SELECT x, y, label FROM points WHERE id <= 2000))
         INTO matrix WITH (segments = 2)`,
    );
    const run = await finished(runId);
    const [matrix] = await query<{ cells: string }>('SELECT count(*)::text AS cells FROM matrix');
    expect(Number(matrix?.cells)).toBeGreaterThan(0);
    expect(run).toMatchObject({ state: 'succeeded', progress: '1', rows_in: '2000', rows_out: matrix?.cells });
  });

  it('shows the rows read while training goes on, and a killed run keeps them and the progress it reached', async () => {
    // Enough trees to train for minutes: the run is killed long before.
    const runId = await execute(
      `EXECUTE PROCEDURE train(training_data => TABLE (SELECT x, y, label FROM points), label => 'label',
         model_name => 'points_forest', n_estimators => 100000)`,
    );
    const running = await eventually(
      () => fixture.run(runId),
      (row) => row.rows_in === '3000' || !['queued', 'running'].includes(row.state),
    );
    expect(running).toMatchObject({ state: 'running', rows_in: '3000' });
    await fixture.client.query(`KILL RUN '${runId}'`);
    const killed = await finished(runId);
    expect(killed).toMatchObject({ state: 'killed', rows_in: '3000', rows_out: '0' });
    // Rows read (5 %) and some trees grown, far from done.
    expect(Number(killed.progress)).toBeGreaterThan(0);
    expect(Number(killed.progress)).toBeLessThan(0.5);
  });

  it("counts a sql run's rows as each statement commits", async () => {
    await fixture.client.query('CREATE TABLE landed (n int)');
    await fixture.client.query("CREATE PROCEDURE load_then_wait TYPE 'sql'");
    const runId = await execute(
      `EXECUTE PROCEDURE load_then_wait(statements => ARRAY[
         'INSERT INTO landed SELECT generate_series(1, 100)',
         'SELECT pg_sleep(2)',
         'SELECT n FROM landed WHERE n <= 10'])`,
    );
    const running = await eventually(
      () => fixture.run(runId),
      (row) => row.rows_out === '100' || !['queued', 'running'].includes(row.state),
    );
    expect(running).toMatchObject({ state: 'running', rows_out: '100' });
    // The sleep read one row, the last query ten.
    expect(await finished(runId)).toMatchObject({ state: 'succeeded', rows_in: '11', rows_out: '100' });
  });
});
