import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCli, startCli } from '../support/cli.js';
import { connectionUrl, eventually, useProxiedDatabase } from '../support/test-database.js';

const t = useProxiedDatabase('workers', { statements: true });
let client: pg.Client;
const workers: RunningCli[] = [];

beforeAll(async () => {
  client = new pg.Client(t.proxy.config(t.db.name));
  await client.connect();
  // Two engines in processes of their own, as on two machines.
  for (let i = 0; i < 2; i += 1) {
    workers.push(startCli(['worker', '--database', connectionUrl(t.db.direct), '--slots', '2', '--log-level', 'warn']));
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
  ]);
});

describe('procgate worker', () => {
  it('shares the segments of one distributed run between two worker processes', async () => {
    await client.query(
      "CREATE PROCEDURE spread LANGUAGE command COMMAND 'sh' ARGS ('-c', 'sleep 1.5; echo segment $PROCGATE_SEGMENT')",
    );
    const { rows } = await client.query('EXECUTE PROCEDURE spread() WITH (segments = 4)');
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
    expect(segments.rows[0]).toEqual({ n: 4, workers: 2 });
    const lines = await client.query(
      "SELECT line FROM procgate.run_output WHERE run_id = $1 AND stream = 'stdout' ORDER BY line",
      [runId],
    );
    expect(lines.rows.map((row) => row.line)).toEqual(['segment 0', 'segment 1', 'segment 2', 'segment 3']);
  });

  it('refuses to start without --database', async () => {
    const worker = startCli(['worker'], { PROCGATE_DATABASE_URL: '' });
    // An empty environment variable counts as missing too.
    expect((await worker.exited).code).not.toBe(0);
    expect(worker.stderr()).toContain('--database');
  });
});
