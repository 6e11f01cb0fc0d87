import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useEngine } from '../support/engine-fixture.js';
import { eventually, useProxiedDatabase } from '../support/test-database.js';

const t = useProxiedDatabase('engine_table_data', { statements: true });

interface RunRow {
  run_id: string;
  state: string;
  error: string | null;
  progress: string;
  segments_total: number | null;
  segments_succeeded: number;
  rows_in: string;
  rows_out: string;
  results: Record<string, unknown> | null;
}

const fixture = useEngine<RunRow>(t);
const { execute, finished } = fixture;

/** A python3 identity over every input into every output: copies input i's CSV to output i's file. */
const IDENTITY = `
import json, os, shutil
control = json.load(open(os.environ['PROCGATE_CONTROL_FILE']))
for source, target in zip(control['inputs'], control['outputs']):
    shutil.copyfile(source['path'], target['path'])
`;

async function query<Row extends object>(text: string, values: unknown[] = []): Promise<Row[]> {
  const { rows } = await fixture.client.query<Row>(text, values);
  return rows;
}

interface SegmentRow {
  segment: number;
  state: string;
  rows_in: string;
  rows_out: string;
  message: string | null;
}

async function segments(runId: string): Promise<SegmentRow[]> {
  return query(
    'SELECT segment, state, rows_in::text, rows_out::text, message FROM procgate.run_segments WHERE run_id = $1 ORDER BY segment',
    [runId],
  );
}

describe('table inputs and INTO outputs', () => {
  it('splits a table over segments and appends every row to a table it creates with the input columns', async () => {
    await fixture.client.query(`
      CREATE TABLE points AS
        SELECT g AS id, g % 7 AS bucket, 'p' || g AS label, g * 0.5 AS weight, (g % 2 = 0) AS even
          FROM generate_series(1, 5000) g`);
    await fixture.client.query(
      `CREATE PROCEDURE copy_rows LANGUAGE command COMMAND 'python3' ARGS ('identity.py')
         FILES ('identity.py' = $1)`,
      [IDENTITY],
    );
    const runId = await execute(
      `EXECUTE PROCEDURE copy_rows(points => TABLE (points)) INTO points_copy WITH (segments = 4)`,
    );
    const row = await finished(runId);
    expect(row).toMatchObject({ state: 'succeeded', segments_total: 4, segments_succeeded: 4, rows_in: '5000', rows_out: '5000' });
    const columns = await query<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns
        WHERE table_name = 'points_copy' ORDER BY ordinal_position`,
    );
    expect(columns).toEqual([
      { column_name: 'id', data_type: 'integer' },
      { column_name: 'bucket', data_type: 'integer' },
      { column_name: 'label', data_type: 'text' },
      { column_name: 'weight', data_type: 'numeric' },
      { column_name: 'even', data_type: 'boolean' },
    ]);
    const [difference] = await query<{ missing: string; extra: string }>(
      `SELECT (SELECT count(*) FROM (SELECT * FROM points EXCEPT ALL SELECT * FROM points_copy) d)::text AS missing,
              (SELECT count(*) FROM (SELECT * FROM points_copy EXCEPT ALL SELECT * FROM points) d)::text AS extra`,
    );
    expect(difference).toEqual({ missing: '0', extra: '0' });
    // Every segment got a share.
    const shares = await segments(runId);
    expect(shares).toHaveLength(4);
    for (const share of shares) expect(Number(share.rows_in)).toBeGreaterThan(0);
    expect(shares.reduce((sum, share) => sum + Number(share.rows_out), 0)).toBe(5000);
  });

  it('gives rows with equal PARTITION BY keys one segment, one segment per partition', async () => {
    await fixture.client.query(
      `CREATE PROCEDURE count_keys LANGUAGE command COMMAND 'python3' ARGS ('count.py')
         RETURNS TABLE (bucket int, n int, segment int)
         FILES ('count.py' = $py$
import csv, json, os
control = json.load(open(os.environ['PROCGATE_CONTROL_FILE']))
counts = {}
with open(control['inputs'][0]['path']) as f:
    for row in csv.DictReader(f):
        counts[row['bucket']] = counts.get(row['bucket'], 0) + 1
with open(control['outputs'][0]['path'], 'w', newline='') as f:
    out = csv.writer(f)
    out.writerow(['bucket', 'n', 'segment'])
    for bucket, n in counts.items():
        out.writerow([bucket, n, os.environ['PROCGATE_SEGMENT']])
$py$)`,
    );
    const runId = await execute(
      `EXECUTE PROCEDURE count_keys(points => TABLE (SELECT id, bucket FROM points WHERE id <= $1) PARTITION BY bucket) INTO bucket_counts`.replace(
        '$1',
        '3500',
      ),
    );
    const row = await finished(runId);
    expect(row).toMatchObject({ state: 'succeeded', segments_total: 7, rows_in: '3500' });
    const counts = await query<{ bucket: number; n: number; segment: number }>(
      'SELECT bucket, n, segment FROM bucket_counts ORDER BY bucket',
    );
    // Each key appears once (all its rows in one segment), each segment holds one key.
    expect(counts.map((c) => c.bucket)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(new Set(counts.map((c) => c.segment)).size).toBe(7);
    expect(counts.reduce((sum, c) => sum + c.n, 0)).toBe(3500);
  });

  it('takes $n placeholders of a TABLE query from the extended protocol', async () => {
    const { rows } = await fixture.client.query<{ run_id: string }>(
      'EXECUTE PROCEDURE copy_rows(points => TABLE (SELECT id, label FROM points WHERE id BETWEEN $1 AND $2)) INTO few_points',
      [10, 19],
    );
    const row = await finished(rows[0]!.run_id);
    expect(row).toMatchObject({ state: 'succeeded', rows_out: '10' });
    expect(await query('SELECT count(*)::int AS n, min(id) AS lo, max(id) AS hi FROM few_points')).toEqual([
      { n: 10, lo: 10, hi: 19 },
    ]);
  });

  it('types the $n placeholders of a TABLE query in CALL where they stand', async () => {
    const { rows } = await fixture.client.query<{ state: string; rows_out: string }>(
      `CALL copy_rows(points => TABLE (SELECT id, label FROM points WHERE id BETWEEN $1 AND $2 AND label <> $3))
         INTO called_points`,
      [5, 8, "it's p6"],
    );
    expect(rows[0]).toMatchObject({ state: 'succeeded' });
    expect(await query('SELECT count(*)::int AS n FROM called_points')).toEqual([{ n: 4 }]);
  });

  it('appends to an existing INTO table and fails a segment whose output does not fit it', async () => {
    await fixture.client.query('CREATE TABLE narrow (id int NOT NULL, label text)');
    const ok = await finished(await execute('EXECUTE PROCEDURE copy_rows(points => TABLE (SELECT id, label FROM points WHERE id <= 3)) INTO narrow'));
    expect(ok).toMatchObject({ state: 'succeeded', rows_out: '3' });
    const bad = await finished(
      await execute('EXECUTE PROCEDURE copy_rows(points => TABLE (SELECT id, label, weight FROM points WHERE id <= 3)) INTO narrow'),
    );
    expect(bad.state).toBe('failed');
    expect(bad.error).toMatch(/could not load the output/);
    expect(await query('SELECT count(*)::int AS n FROM narrow')).toEqual([{ n: 3 }]);
  });

  it('reads inputs and writes outputs with the caller\'s privileges', async () => {
    await fixture.client.query(`CREATE ROLE table_data_user LOGIN PASSWORD 'pw'`);
    await fixture.client.query('GRANT procgate_developer TO table_data_user');
    await fixture.client.query('CREATE TABLE hidden (secret text)');
    await fixture.client.query(`INSERT INTO hidden VALUES ('s')`);
    await fixture.client.query('GRANT EXECUTE ON PROCEDURE copy_rows TO table_data_user');
    // The caller can't read "hidden": the run fails at once with PostgreSQL's error.
    const caller = fixture.client;
    await caller.query('SET ROLE table_data_user');
    try {
      // TABLE (hidden) is checked when EXECUTE runs, as the caller: refused there already.
      await expect(caller.query('EXECUTE PROCEDURE copy_rows(points => TABLE (hidden)) INTO stolen')).rejects.toMatchObject({ code: '42501' });
      // A function the caller may call but which reads what the caller may not: refused when the run reads it.
      await caller.query('RESET ROLE');
      await caller.query(`CREATE FUNCTION peek() RETURNS SETOF text LANGUAGE sql AS 'SELECT secret FROM hidden'`);
      await caller.query('SET ROLE table_data_user');
      const runId = await execute('EXECUTE PROCEDURE copy_rows(points => TABLE (SELECT * FROM peek() WHERE $1::int = 1)) INTO stolen'.replace('$1', '1'));
      await caller.query('RESET ROLE');
      const row = await finished(runId);
      expect(row.state).toBe('failed');
      expect(row.error).toMatch(/permission denied for table hidden/);
      expect(await query(`SELECT to_regclass('stolen') AS t`)).toEqual([{ t: null }]);
    } finally {
      await caller.query('RESET ROLE');
    }
  });

  it('refuses a role switch from inside the caller\'s query', async () => {
    await fixture.client.query(`GRANT SELECT ON points TO table_data_user`);
    // The run gets as far as reading: its INTO table is made at planning, a direct read's query runs later.
    await fixture.client.query('GRANT CREATE ON SCHEMA public TO table_data_user');
    await fixture.client.query('SET ROLE table_data_user');
    let runId: string;
    try {
      runId = await execute(
        `EXECUTE PROCEDURE copy_rows(points => TABLE (SELECT id, set_config('role', 'procgate', true) AS r FROM points WHERE id = 1)) INTO escalated`,
      );
    } finally {
      await fixture.client.query('RESET ROLE');
    }
    const row = await finished(runId);
    expect(row.state).toBe('failed');
    // Staged, the query runs in the engine's SECURITY DEFINER function ("cannot set parameter");
    // read directly, in the caller's own session, where the caller may not become procgate.
    expect(row.error).toMatch(/cannot set parameter "role"|permission denied to set role "procgate"/);
  });

  it('reports progress, a message and results through the status channel (fd 3)', async () => {
    await fixture.client.query(
      `CREATE PROCEDURE chatty LANGUAGE command COMMAND 'python3' ARGS ('chatty.py')
         EXECUTION MODE NONDISTRIBUTED
         FILES ('chatty.py' = $py$
import json, os, time
status = os.fdopen(int(os.environ['PROCGATE_STATUS_FD']), 'w', buffering=1)
status.write(json.dumps({"progress": 0.5, "message": "half way"}) + "\\n")
time.sleep(1.5)
status.write(json.dumps({"result": {"answer": 42}}) + "\\n")
time.sleep(1.5)
status.write("not json\\n")
status.write(json.dumps({"result": {"unit": "ok"}, "message": "done"}) + "\\n")
$py$)`,
    );
    const runId = await execute('EXECUTE PROCEDURE chatty()');
    const live = await eventually(
      () => segments(runId),
      (rows) => rows[0]?.message === 'half way',
      5000,
    );
    expect(live[0]?.message).toBe('half way');
    const running = await fixture.run(runId);
    expect(Number(running.progress)).toBe(0.5);
    // Results show while the run goes on too.
    const partial = await eventually(
      () => fixture.run(runId),
      (row) => row.results !== null,
      5000,
    );
    expect(partial).toMatchObject({ state: 'running', results: { '0': { answer: 42 } } });
    const row = await finished(runId);
    expect(row).toMatchObject({ state: 'succeeded', results: { '0': { answer: 42, unit: 'ok' } } });
    expect((await segments(runId))[0]?.message).toBe('done');
  });

  it('fails a run whose INTO table cannot be created from anything', async () => {
    await fixture.client.query(
      `CREATE PROCEDURE no_columns LANGUAGE command COMMAND 'true'`,
    );
    const row = await finished(await execute('EXECUTE PROCEDURE no_columns() INTO nowhere'));
    expect(row.state).toBe('failed');
    expect(row.error).toMatch(/INTO table "nowhere" does not exist/);
  });

  it('gives a command bytea parameters as files and its registered environment', async () => {
    await fixture.client.query(
      `SELECT procgate.create_environment('table_data_env', '{"GREETING": "hi there"}', ARRAY['/opt/procgate-test/bin'])`,
    );
    await fixture.client.query(
      `CREATE PROCEDURE show_env(blob bytea, n int) LANGUAGE command COMMAND 'python3' ARGS ('env.py')
         EXECUTION MODE NONDISTRIBUTED
         WITH (set_environment = 'table_data_env')
         FILES ('env.py' = $py$
import json, os
control = json.load(open(os.environ['PROCGATE_CONTROL_FILE']))
blob = control['params']['blob']
data = open(blob['path'], 'rb').read()
status = os.fdopen(int(os.environ['PROCGATE_STATUS_FD']), 'w')
status.write(json.dumps({"result": {
    "blob_type": blob['type'], "blob_hex": data.hex(), "n": control['params']['n'],
    "greeting": os.environ['GREETING']}}) + "\\n")
$py$)`,
    );
    const row = await finished(await execute(`EXECUTE PROCEDURE show_env(blob => '\\x00ff10'::bytea, n => 7)`));
    expect(row.error).toBeNull();
    expect(row).toMatchObject({
      state: 'succeeded',
      results: {
        '0': {
          blob_type: 'bytea',
          blob_hex: '00ff10',
          n: { value: 7, type: 'integer' },
          greeting: 'hi there',
        },
      },
    });
  });

  it('finds a COMMAND on the PATH prefix of its environment', async () => {
    const bin = mkdtempSync(path.join(tmpdir(), 'procgate-env-bin-'));
    // The program runs as an unprivileged uid, which must reach the directory.
    chmodSync(bin, 0o755);
    try {
      writeFileSync(path.join(bin, 'procgate-greet'), '#!/bin/sh\necho "$GREETING from $0"\n', { mode: 0o755 });
      await fixture.client.query(`SELECT procgate.create_environment('greeter', '{"GREETING": "hello"}', ARRAY[$1])`, [bin]);
      await fixture.client.query(
        `CREATE PROCEDURE greet LANGUAGE command COMMAND 'procgate-greet' EXECUTION MODE NONDISTRIBUTED
           WITH (set_environment = 'greeter')`,
      );
      const runId = await execute('EXECUTE PROCEDURE greet()');
      expect(await finished(runId)).toMatchObject({ state: 'succeeded' });
      expect(await query('SELECT line FROM procgate.run_output WHERE run_id = $1', [runId])).toEqual([
        { line: `hello from ${path.join(bin, 'procgate-greet')}` },
      ]);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it('drops the staging tables once a run has finished', async () => {
    const left = await eventually(
      () => query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'procgate_staging'`),
      (rows) => rows[0]?.n === 0,
      8000,
    );
    expect(left).toEqual([{ n: 0 }]);
  });
});
