import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TYPES } from '../../src/builtins/index.js';
import { Engine } from '../../src/engine/engine.js';
import { silentLogger } from '../../src/log/logger.js';
import { type RunningCli, startCli } from '../support/cli.js';
import { groupsWorkingUnder, killGroups, liveGroupMembers } from '../support/processes.js';
import { connectionUrl, eventually, useProxiedDatabase } from '../support/test-database.js';

const execFileAsync = promisify(execFile);

/**
 * Programs' database access with a `procgate worker` of its own: the
 * example of docs/procedures.md ("Database access") runs as written there,
 * and the login of a program whose engine is SIGKILLed goes at the next
 * engine's sweep, its sessions with it, though the program lives on.
 */

const t = useProxiedDatabase('database_access', { statements: true });
let client: pg.Client;
let worker: RunningCli;
let workerTmp: string;

beforeAll(async () => {
  client = new pg.Client(t.proxy.config(t.db.name));
  await client.connect();
  workerTmp = realpathSync(mkdtempSync(path.join(tmpdir(), 'pgaccess-')));
  // The worker's run directory is in it: its programs' uids must pass through (not list it).
  chmodSync(workerTmp, 0o711);
  // The system's python3 first: Debian's python3-psycopg is its (.ci/run installs it).
  worker = startCli(
    ['worker', '--database', connectionUrl(t.db.direct), '--slots', '2', '--lease-ms', '1000', '--log-level', 'warn'],
    { TMPDIR: workerTmp, PATH: `/usr/bin:${process.env['PATH'] ?? ''}` },
  );
  await worker.ready;
});

afterAll(async () => {
  if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
  await worker.exited;
  killGroups(groupsWorkingUnder(workerTmp));
  rmSync(workerTmp, { recursive: true, force: true });
  await client.end();
});

/** The first sql block of docs/procedures.md's "Database access". */
function docsExample(): string {
  const docs = readFileSync('docs/procedures.md', 'utf8');
  const section = docs.slice(docs.indexOf('\n## Database access\n'));
  const example = /```sql\n([\s\S]*?)```/.exec(section)?.[1];
  if (example === undefined) throw new Error('no example in "Database access"');
  return example;
}

describe('database access', () => {
  it('runs the example of docs/procedures.md as written', async () => {
    const file = path.join(workerTmp, 'example.sql');
    writeFileSync(file, docsExample());
    // CALL's progress NOTICEs vary from run to run; the example's own output is what matters.
    await execFileAsync('psql', [t.proxy.url(t.db.name), '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', file], {
      env: { ...process.env, PGOPTIONS: '-c client_min_messages=warning' },
    });
    const { rows } = await client.query('SELECT * FROM sales_summary ORDER BY region');
    expect(rows).toEqual([{ region: 'north', orders: 3, total: '300', median: '100' }]);
    const output = await client.query(
      `SELECT o.line FROM procgate.run_output o JOIN procgate.runs r USING (run_id)
        WHERE r.procedure = 'summarize_sales' AND o.stream = 'stdout'`,
    );
    expect(output.rows).toEqual([{ line: '2 regions' }]);
  });

  it('drops the login of a lost engine at the next sweep, and ends the sessions its program still holds', async () => {
    // Says who it is, then holds a session of its own: the program outlives a SIGKILLed engine.
    await client.query(`CREATE PROCEDURE hold_session LANGUAGE command COMMAND 'sh' ARGS ('-c', '
      echo "{\\"result\\": {\\"user\\": \\"$PGUSER\\", \\"password\\": \\"$PGPASSWORD\\"}}" >&3
      exec psql -X -c "SELECT pg_sleep(60)"') EXECUTION MODE NONDISTRIBUTED`);
    const runId = (await client.query<{ run_id: string }>('EXECUTE PROCEDURE hold_session()')).rows[0]!.run_id;
    const segment = async () =>
      (await client.query<{ pid: number | null; results: { user: string; password: string } | null }>(
        'SELECT pid, results FROM procgate.run_segments WHERE run_id = $1', [runId],
      )).rows[0];
    const started = await eventually(segment, (row) => row?.pid != null && row.results !== null, 10_000);
    const login = started!.results!;
    const programGroup = started!.pid!;
    const sessions = async () =>
      Number((await client.query('SELECT count(*) FROM pg_stat_activity WHERE usename = $1', [login.user])).rows[0].count);
    expect(await eventually(sessions, (n) => n === 1)).toBe(1);
    const held = new pg.Client({ ...t.db.direct, user: login.user, password: login.password });
    await held.connect();
    const terminated = new Promise<string | undefined>((resolve) =>
      held.on('error', (error: Error & { code?: string }) => resolve(error.code)),
    );

    worker.child.kill('SIGKILL');
    await worker.exited;
    expect(liveGroupMembers(programGroup)).not.toEqual([]);
    // Another engine: its sweep fails the segment once the lease has run out, and drops the login.
    const engine = new Engine({ slots: 1, logger: silentLogger(), sweepMs: 200, procedureTypes: TYPES });
    await engine.start(t.db.direct);
    try {
      expect(await terminated).toBe('57P01');
      // The program's own session was ended too: psql, and so the program, exited.
      const members = await eventually(async () => liveGroupMembers(programGroup), (live) => live.length === 0);
      expect(members).toEqual([]);
      const run = await client.query('SELECT state, error FROM procgate.runs WHERE run_id = $1', [runId]);
      expect(run.rows).toEqual([{ state: 'failed', error: 'worker lost' }]);
      const refused = await new pg.Client({ ...t.db.direct, user: login.user, password: login.password })
        .connect()
        .then(() => undefined, (error: { code?: string }) => error.code);
      expect(refused).toBe('28P01');
      // Its sessions end before the role is dropped, in the same call: a moment later.
      const left = async () =>
        (await client.query('SELECT role FROM procgate_internal.segment_logins WHERE run_id = $1', [runId])).rows;
      expect(await eventually(left, (rows) => rows.length === 0)).toEqual([]);
    } finally {
      await held.end().catch(() => undefined);
      await engine.stop();
    }
  });
});
