import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCli, startCli } from '../support/cli.js';
import { liveGroupMembers } from '../support/processes.js';
import { connectionUrl, eventually, useProxiedDatabase } from '../support/test-database.js';

const t = useProxiedDatabase('workers', { statements: true });
let client: pg.Client;
const workers: RunningCli[] = [];

beforeAll(async () => {
  client = new pg.Client(t.proxy.config(t.db.name));
  await client.connect();
  // Three engines in processes of their own, as on three machines: a server (front end and engine) and two workers.
  const database = connectionUrl(t.db.direct);
  workers.push(startCli(['serve', '--database', database, '--port', '0', '--slots', '2', '--log-level', 'warn']));
  for (let i = 0; i < 2; i += 1) {
    workers.push(startCli(['worker', '--database', database, '--slots', '2', '--log-level', 'warn']));
  }
  await Promise.all(workers.map((worker) => worker.ready));
});

afterAll(async () => {
  for (const worker of workers) worker.child.kill('SIGTERM');
  const exits = await Promise.all(workers.map((worker) => worker.exited));
  await client.end();
  expect(exits).toEqual([
    { code: 0, signal: null },
    { code: 0, signal: null },
    { code: 0, signal: null },
  ]);
});

describe('procgate worker', () => {
  it('shares the segments of one distributed run between a server and two worker processes', async () => {
    await client.query(
      "CREATE PROCEDURE spread LANGUAGE command COMMAND 'sh' ARGS ('-c', 'sleep 1.5; echo segment $PROCGATE_SEGMENT')",
    );
    // Six segments, two slots per engine: each of the three runs two at once.
    const { rows } = await client.query('EXECUTE PROCEDURE spread() WITH (segments = 6)');
    const runId: string = rows[0].run_id;
    const state = await eventually(
      async () => (await client.query('SELECT state FROM procgate.runs WHERE run_id = $1', [runId])).rows[0].state,
      (value) => value === 'succeeded' || value === 'failed',
      20_000,
    );
    expect(state).toBe('succeeded');
    const segments = await client.query(
      'SELECT count(*)::int AS n, count(DISTINCT worker)::int AS workers FROM procgate.run_segments WHERE run_id = $1',
      [runId],
    );
    expect(segments.rows[0]).toEqual({ n: 6, workers: 3 });
    const lines = await client.query(
      "SELECT line FROM procgate.run_output WHERE run_id = $1 AND stream = 'stdout' ORDER BY line",
      [runId],
    );
    expect(lines.rows.map((row) => row.line)).toEqual([0, 1, 2, 3, 4, 5].map((n) => `segment ${String(n)}`));
  });

  it('kills the segments on every engine process with one KILL RUN, within 2 s, process groups and all', async () => {
    await client.query("CREATE PROCEDURE wide LANGUAGE command COMMAND 'sh' ARGS ('-c', 'sleep 30 & sleep 30; wait')");
    // Six segments, two slots per engine: each of the three runs two.
    const { rows } = await client.query('EXECUTE PROCEDURE wide() WITH (segments = 6)');
    const runId: string = rows[0].run_id;
    const segments = await eventually(
      async () =>
        (
          await client.query<{ worker: string; pid: number }>(
            'SELECT worker, pid FROM procgate.run_segments WHERE run_id = $1 AND pid IS NOT NULL',
            [runId],
          )
        ).rows,
      (started) => started.length === 6,
      10_000,
    );
    expect(new Set(segments.map((segment) => segment.worker)).size).toBe(3);
    for (const { pid } of segments) {
      // sh and both sleeps, once sh has started them.
      expect(await eventually(async () => liveGroupMembers(pid), (members) => members.length === 3)).toHaveLength(3);
    }
    const killedAt = Date.now();
    expect((await client.query(`KILL RUN '${runId}'`)).rows).toEqual([{ run_id: runId, state: 'cancelling' }]);
    const state = await eventually(
      async () => (await client.query('SELECT state FROM procgate.runs WHERE run_id = $1', [runId])).rows[0].state,
      (value) => value === 'killed',
      2_000,
    );
    expect(state).toBe('killed');
    expect(Date.now() - killedAt).toBeLessThan(2_000);
    for (const { pid } of segments) {
      expect(await eventually(async () => liveGroupMembers(pid), (members) => members.length === 0, 1_000)).toEqual([]);
    }
    const ended = await client.query(
      'SELECT DISTINCT state, message FROM procgate.run_segments WHERE run_id = $1',
      [runId],
    );
    expect(ended.rows).toEqual([{ state: 'killed', message: 'killed' }]);
  });

  it('refuses to start without --database', async () => {
    const worker = startCli(['worker'], { PROCGATE_DATABASE_URL: '' });
    // An empty environment variable counts as missing too.
    expect((await worker.exited).code).not.toBe(0);
    expect(worker.stderr()).toContain('--database');
  });
});
