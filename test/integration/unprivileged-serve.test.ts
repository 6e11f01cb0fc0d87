import { randomBytes } from 'node:crypto';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemUser } from '../../src/postgres/process-utils.js';
import { type RunningCli, startCli } from '../support/cli.js';
import { connectionUrl, createTestDatabase, eventually, sharedPostgres, type TestDatabase } from '../support/test-database.js';

/*
 * procgate started as an ordinary user cannot switch users: it says so,
 * procgate.engines says 'none', developers cannot create code procedures
 * and their code does not run, unless --trust-developers says they may.
 * The tests run as root; this procgate runs as `nobody`, in front of the
 * shared PostgreSQL (--database), with a run directory of its own.
 */

let db: TestDatabase;
let runDirectory: string;
let unprivileged: { uid: number; gid: number };
const devRole = `dev_${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  db = await createTestDatabase('unprivileged_serve');
  unprivileged = (await systemUser('nobody')) ?? { uid: 65534, gid: 65534 };
  runDirectory = mkdtempSync(path.join(tmpdir(), 'procgate-unprivileged-'));
  chownSync(runDirectory, unprivileged.uid, unprivileged.gid);
});

afterAll(async () => {
  await db.drop();
  const admin = new pg.Client({ ...db.direct, database: 'postgres' });
  await admin.connect();
  await admin.query(`DROP ROLE IF EXISTS ${devRole}`);
  await admin.end();
  rmSync(runDirectory, { recursive: true, force: true });
});

interface Serving {
  readonly cli: RunningCli;
  /** Superuser and developer sessions through it. */
  readonly admin: pg.Client;
  readonly dev: pg.Client;
  stop(): Promise<void>;
}

/** `procgate serve` as nobody, with `flags`; sessions as the superuser and as dev. */
async function serve(flags: readonly string[] = []): Promise<Serving> {
  const cli = startCli(
    ['serve', '--database', connectionUrl(db.direct), '--port', '0', '--run-dir', runDirectory, '--log-format', 'json', ...flags],
    { HOME: runDirectory },
    unprivileged,
  );
  const port = Number(new URL(await cli.ready).port);
  const shared = sharedPostgres();
  const config = { host: '127.0.0.1', port, database: db.name };
  const admin = new pg.Client({ ...config, user: shared.user, password: shared.password });
  await admin.connect();
  await admin.query(
    `DO $$ BEGIN
       IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${devRole}') THEN
         CREATE ROLE ${devRole} LOGIN PASSWORD 'pw';
         GRANT procgate_developer TO ${devRole};
       END IF;
     END $$`,
  );
  const dev = new pg.Client({ ...config, user: devRole, password: 'pw' });
  await dev.connect();
  return {
    cli,
    admin,
    dev,
    stop: async () => {
      await dev.end();
      await admin.end();
      cli.child.kill('SIGTERM');
      expect(await cli.exited).toEqual({ code: 0, signal: null });
    },
  };
}

/** The engine's WARN lines on stderr. */
function warnings(cli: RunningCli): string[] {
  return cli
    .stderr()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: number; msg: string })
    .filter((entry) => entry.level === 40)
    .map((entry) => entry.msg);
}

/** Runs `statement` (an EXECUTE) and waits for the run's end. */
async function runToEnd(client: pg.Client, statement: string): Promise<Record<string, unknown>> {
  const runId = (await client.query<{ run_id: string }>(statement)).rows[0]!.run_id;
  return eventually(
    async () =>
      (
        await client.query(
          `SELECT state, error, procgate.run_error_code(run_id) AS error_code,
                  (SELECT string_agg(line, ',') FROM procgate.run_output o WHERE o.run_id = r.run_id) AS output
             FROM procgate.runs r WHERE run_id = $1`,
          [runId],
        )
      ).rows[0]!,
    (row) => ['succeeded', 'failed', 'killed'].includes(row['state'] as string),
    10_000,
  );
}

async function errorOf(promise: Promise<unknown>): Promise<{ code?: string; hint?: string }> {
  return promise.then(
    () => ({}),
    (error: { code?: string; hint?: string }) => error,
  );
}

describe('procgate serve as an ordinary user', () => {
  it('warns, says isolation none, refuses developers\' code procedures and runs only superusers\' code', async () => {
    const server = await serve();
    try {
      expect(warnings(server.cli).join('\n')).toMatch(/users' code runs as procgate's own user.*--trust-developers/);
      expect((await server.admin.query('SELECT isolation, live FROM procgate.engines')).rows).toEqual([
        { isolation: 'none', live: true },
      ]);
      const refused = await errorOf(server.dev.query("CREATE PROCEDURE dev_id LANGUAGE command COMMAND 'id' ARGS ('-u')"));
      expect(refused.code).toBe('42501');
      expect(refused.hint).toMatch(/--trust-developers/);
      await server.admin.query("CREATE PROCEDURE admin_id LANGUAGE command COMMAND 'id' ARGS ('-u') EXECUTION MODE NONDISTRIBUTED");
      expect(await runToEnd(server.admin, 'EXECUTE PROCEDURE admin_id()')).toMatchObject({
        state: 'succeeded',
        output: String(unprivileged.uid),
      });
    } finally {
      await server.stop();
    }
  });

  it('with --trust-developers, lets developers create and run code as its own user; without, fails their runs', async () => {
    const trusting = await serve(['--trust-developers']);
    try {
      expect(warnings(trusting.cli).join('\n')).toMatch(/--trust-developers lets members of procgate_developer/);
      expect((await trusting.admin.query('SELECT isolation FROM procgate.engines')).rows).toEqual([{ isolation: 'trusted' }]);
      await trusting.dev.query("CREATE PROCEDURE dev_id LANGUAGE command COMMAND 'id' ARGS ('-u') EXECUTION MODE NONDISTRIBUTED");
      expect(await runToEnd(trusting.dev, 'EXECUTE PROCEDURE dev_id()')).toMatchObject({
        state: 'succeeded',
        output: String(unprivileged.uid),
      });
    } finally {
      await trusting.stop();
    }
    // The developer's procedure is there; an engine that trusts no developer does not run it.
    const strict = await serve();
    try {
      const failed = await runToEnd(strict.dev, 'EXECUTE PROCEDURE dev_id()');
      expect(failed).toMatchObject({ state: 'failed', error_code: '42501', output: null });
      expect(failed['error']).toMatch(/^permission denied to run procedure "dev_id" of language command: .*--trust-developers/);
    } finally {
      await strict.stop();
    }
  });
});
