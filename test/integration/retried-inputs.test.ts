import { chmodSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCli, startCli } from '../support/cli.js';
import { groupsWorkingUnder, killGroups } from '../support/processes.js';
import { connectionUrl, eventually, useProxiedDatabase } from '../support/test-database.js';

/**
 * A retried segment reads exactly the rows its first attempt read, even
 * when the engine that planned the run (and ran the first attempt) died
 * and the source table changed since: a run with `retries` reads its
 * TABLE inputs from staging tables, never from a snapshot that dies with
 * its engine.
 */

const t = useProxiedDatabase('retried_inputs', { statements: true });

const LEASE_MS = 2_000;
const TEST_TIMEOUT_MS = 90_000;

interface Worker {
  readonly cli: RunningCli;
  readonly id: string;
  readonly tmp: string;
}

const started: Worker[] = [];
let client: pg.Client;
let gates: string;

async function startWorker(): Promise<Worker> {
  const tmp = realpathSync(mkdtempSync(path.join(tmpdir(), 'data-in-retry-')));
  chmodSync(tmp, 0o711);
  const cli = startCli(
    ['worker', '--database', connectionUrl(t.db.direct), '--slots', '1', '--lease-ms', String(LEASE_MS), '--log-level', 'warn'],
    { TMPDIR: tmp },
  );
  const worker = { cli, tmp, id: '' };
  started.push(worker);
  return { ...worker, id: await cli.ready };
}

beforeAll(async () => {
  client = new pg.Client(t.proxy.config(t.db.name));
  await client.connect();
  gates = mkdtempSync(path.join(tmpdir(), 'data-in-retry-gates-'));
  chmodSync(gates, 0o755);
  await client.query(`CREATE TABLE retried_source AS SELECT g AS id, md5(g::text) AS payload FROM generate_series(1, 4000) g`);
  await client.query('CREATE TABLE retried_before AS TABLE retried_source');
  await client.query(
    `CREATE PROCEDURE gated_copy LANGUAGE command COMMAND 'python3' ARGS ('copy.py') FILES ('copy.py' = $py$
import json, os, shutil, time
control = json.load(open(os.environ['PROCGATE_CONTROL_FILE']))
while not os.path.exists(control['params']['barrier']['value']):
    time.sleep(0.02)
for source, target in zip(control['inputs'], control['outputs']):
    shutil.copyfile(source['path'], target['path'])
$py$)`,
  );
});

afterAll(async () => {
  for (const worker of started) {
    if (worker.cli.child.exitCode === null && worker.cli.child.signalCode === null) worker.cli.child.kill('SIGKILL');
    await worker.cli.exited;
    killGroups(groupsWorkingUnder(worker.tmp));
    rmSync(worker.tmp, { recursive: true, force: true });
  }
  rmSync(gates, { recursive: true, force: true });
  await client.end();
});

describe('a retried segment', () => {
  it('reads exactly the rows its first attempt read after the planning engine died and the source changed', async () => {
    const planner = await startWorker();
    const barrier = path.join(gates, 'go');
    const { rows } = await client.query<{ run_id: string }>(
      `EXECUTE PROCEDURE gated_copy(rows => TABLE (retried_source), barrier => '${barrier}')
         INTO retried_copy WITH (segments = 2, retries = 1)`,
    );
    const runId = rows[0]!.run_id;
    // One slot: the planner runs one segment, which has read its share and waits; the other is queued.
    const running = await eventually(
      async () =>
        (
          await client.query<{ segment: number }>(
            `SELECT segment FROM procgate.run_segments WHERE run_id = $1 AND state = 'running' AND pid IS NOT NULL AND worker = $2`,
            [runId, planner.id],
          )
        ).rows,
      (segments) => segments.length === 1,
      15_000,
    );
    expect(running).toHaveLength(1);
    await client.query(`INSERT INTO retried_source SELECT g, 'new' FROM generate_series(4001, 4500) g`);
    await client.query(`UPDATE retried_source SET payload = 'changed' WHERE id % 3 = 0`);
    await client.query('DELETE FROM retried_source WHERE id % 5 = 0');
    planner.cli.child.kill('SIGKILL');
    expect(await planner.cli.exited).toEqual({ code: null, signal: 'SIGKILL' });
    killGroups(groupsWorkingUnder(planner.tmp));
    writeFileSync(barrier, '');

    const survivor = await startWorker();
    const run = await eventually(
      async () => (await client.query<{ state: string; error: string | null }>('SELECT state, error FROM procgate.runs WHERE run_id = $1', [runId])).rows[0]!,
      (row) => ['succeeded', 'failed', 'killed'].includes(row.state),
      30_000,
    );
    expect(run).toEqual({ state: 'succeeded', error: null });
    const segments = await client.query<{ segment: number; attempt: number; worker: string }>(
      'SELECT segment, attempt, worker FROM procgate.run_segments WHERE run_id = $1 ORDER BY segment',
      [runId],
    );
    // The lost segment ran again on the survivor, in a second attempt.
    expect(segments.rows.find((segment) => segment.segment === running[0]!.segment)).toMatchObject({
      attempt: 2,
      worker: survivor.id,
    });
    const { rows: difference } = await client.query<{ missing: number; extra: number }>(
      `SELECT (SELECT count(*) FROM (TABLE retried_before EXCEPT ALL TABLE retried_copy) d)::int AS missing,
              (SELECT count(*) FROM (TABLE retried_copy EXCEPT ALL TABLE retried_before) d)::int AS extra`,
    );
    expect(difference).toEqual([{ missing: 0, extra: 0 }]);
  }, TEST_TIMEOUT_MS);
});
