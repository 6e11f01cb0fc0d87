import { describe, expect, it } from 'vitest';
import { useEngine } from '../support/engine-fixture.js';
import { useProxiedDatabase } from '../support/test-database.js';

const t = useProxiedDatabase('engine_error_codes', { statements: true });

interface RunRow {
  state: string;
  error: string | null;
  error_code: string | null;
}

const fixture = useEngine<RunRow>(t);

async function callError(statement: string): Promise<{ code?: string; message: string; detail?: string }> {
  return fixture.client.query(statement).then(
    () => {
      throw new Error('expected the CALL to fail');
    },
    (error: { code?: string; message: string; detail?: string }) => error,
  );
}

async function lastRun(procedure: string): Promise<RunRow> {
  const { rows } = await fixture.client.query<RunRow>(
    `SELECT state, error, procgate.run_error_code(run_id) AS error_code
       FROM procgate.runs WHERE procedure = $1 ORDER BY created_at DESC LIMIT 1`,
    [procedure],
  );
  return rows[0]!;
}

describe('the SQLSTATE of a failed run', () => {
  it("is PostgreSQL's when a statement of the run fails, and CALL raises it", async () => {
    await fixture.client.query("CREATE PROCEDURE divide TYPE 'sql' WITH (statements = ARRAY['SELECT 1 / 0'])");
    const error = await callError('CALL divide()');
    expect(error).toMatchObject({ code: '22012', message: expect.stringContaining('division by zero') });
    expect(await lastRun('divide')).toMatchObject({ state: 'failed', error_code: '22012' });
  });

  it('is 22023 for a parameter a built-in type finds bad while it runs', async () => {
    await fixture.client.query('CREATE TABLE points AS SELECT g::float8 AS x, (g % 2)::text AS label FROM generate_series(1, 20) g');
    // An unknown algorithm now fails the CALL before a run exists; k above the rows is known only as the run reads them.
    await fixture.client.query('CREATE TABLE centroids (cluster int, x float8)');
    await fixture.client.query("CREATE PROCEDURE cluster TYPE 'kmeans.train'");
    const error = await callError(
      "CALL cluster(training_data => TABLE (SELECT x FROM points), k => 50, model_name => 'm') INTO centroids",
    );
    expect(error).toMatchObject({ code: '22023', message: expect.stringContaining('k (50) is more than the rows to cluster (20)') });
    expect(await lastRun('cluster')).toMatchObject({ state: 'failed', error_code: '22023' });
  });

  it('is the TABLE query\'s when reading the input fails as the run starts', async () => {
    await fixture.client.query("CREATE PROCEDURE copy_points TYPE 'transform'");
    const error = await callError(
      'CALL copy_points(input => TABLE (SELECT x / (x - x) AS y FROM points)) INTO copied_points',
    );
    expect(error.code).toBe('22012');
    expect(await lastRun('copy_points')).toMatchObject({ state: 'failed', error_code: '22012' });
  });

  it("is the INTO table's when the output does not fit it", async () => {
    await fixture.client.query('CREATE TABLE counts (n int)');
    // The program writes a row the INTO table's int column can't take.
    await fixture.client.query(`CREATE PROCEDURE words LANGUAGE command COMMAND 'python3' ARGS ('write.py')
      FILES ('write.py' = $py$
import json, os
out = json.load(open(os.environ['PROCGATE_CONTROL_FILE']))['outputs'][0]
open(out['path'], 'w').write('n\\nnot a number\\n')
$py$)`);
    const error = await callError('CALL words() INTO counts WITH (segments = 1)');
    expect(error).toMatchObject({ code: '22P02' });
    expect(await lastRun('words')).toMatchObject({ state: 'failed', error_code: '22P02' });
  });

  it('is 57014 when a program outlives the run\'s timeout, and CALL says it timed out', async () => {
    await fixture.client.query("CREATE PROCEDURE nap LANGUAGE command COMMAND 'sleep' ARGS ('30')");
    const error = await callError('CALL nap() WITH (timeout = 1)');
    expect(error).toMatchObject({
      code: '57014',
      message: expect.stringContaining('failed: timed out after 1 s'),
      detail: 'The run timed out: a segment ran longer than its timeout (00:00:01).',
    });
    expect(await lastRun('nap')).toMatchObject({ state: 'failed', error: 'timed out after 1 s', error_code: '57014' });
  });

  it('is 57014 when a built-in type outlives the run\'s timeout, its statement cancelled at the limit', async () => {
    await fixture.client.query("CREATE PROCEDURE naps TYPE 'sql'");
    const started = Date.now();
    const runId = await fixture.execute(
      `EXECUTE PROCEDURE naps(statements => ARRAY['SELECT pg_sleep(30)', 'SELECT 1']) WITH (timeout = 1)`,
    );
    expect(await fixture.finished(runId)).toMatchObject({ state: 'failed', error: 'timed out after 1 s' });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await lastRun('naps')).toMatchObject({ error_code: '57014' });
  });

  it('is 42P01 when an INTO table does not exist and there is nothing to create it from', async () => {
    await fixture.client.query("CREATE PROCEDURE writes LANGUAGE command COMMAND 'true'");
    const error = await callError('CALL writes() INTO nowhere');
    expect(error).toMatchObject({ code: '42P01', message: expect.stringContaining('INTO table "nowhere" does not exist') });
    expect(await lastRun('writes')).toMatchObject({ state: 'failed', error_code: '42P01' });
  });

  it('is none when the program fails: CALL raises 38000', async () => {
    await fixture.client.query("CREATE PROCEDURE exits LANGUAGE command COMMAND 'sh' ARGS ('-c', 'exit 4')");
    const error = await callError('CALL exits()');
    expect(error.code).toBe('38000');
    expect(await lastRun('exits')).toMatchObject({ state: 'failed', error_code: null });
  });
});
