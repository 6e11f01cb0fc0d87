import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isProcessAlive, waitForExit } from '../../src/postgres/process-utils.js';
import { CLI, startCli } from '../support/cli.js';
import { createTestDatabase, sharedPostgres, type TestDatabase } from '../support/test-database.js';

const execFileAsync = promisify(execFile);

async function query(url: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

describe('procgate --help', () => {
  it('lists every serve option with its default and environment variable, at both levels', async () => {
    for (const args of [['--help'], ['serve', '--help']]) {
      const { stdout: help } = await execFileAsync(process.execPath, [CLI, ...args]);
      // Commander wraps lines to the terminal width.
      const stdout = help.replace(/\s+/g, ' ');
      for (const [option, env] of [
        ['--host', 'PROCGATE_HOST'],
        ['--port', 'PROCGATE_PORT'],
        ['--database', 'PROCGATE_DATABASE_URL'],
        ['--data-dir', 'PROCGATE_DATA_DIR'],
        ['--password', 'PROCGATE_PASSWORD'],
        ['--tls-cert', 'PROCGATE_TLS_CERT'],
        ['--tls-key', 'PROCGATE_TLS_KEY'],
        ['--max-message-size', 'PROCGATE_MAX_MESSAGE_SIZE'],
        ['--slots', 'PROCGATE_SLOTS'],
        ['--lease-ms', 'PROCGATE_LEASE_MS'],
        ['--run-dir', 'PROCGATE_RUN_DIR'],
        ['--sandbox-uids', 'PROCGATE_SANDBOX_UIDS'],
        ['--trust-developers', 'PROCGATE_TRUST_DEVELOPERS'],
        ['--log-level', 'PROCGATE_LOG_LEVEL'],
        ['--log-format', 'PROCGATE_LOG_FORMAT'],
      ]) {
        expect(stdout, `${args.join(' ')} shows ${option}`).toContain(option);
        expect(stdout, `${args.join(' ')} shows ${env}`).toContain(`env: ${env}`);
      }
      expect(stdout).toContain('choices: "pretty", "json"');
      expect(stdout).toContain('default: pretty when stderr is a terminal, else json');
      expect(stdout).toContain('default: 5433');
      expect(stdout).toContain('default: "./.procgate"');
      expect(stdout).toContain('default: 900000-900999');
    }
  });

  it('lists the sandbox options of worker too, and refuses a bad uid range', async () => {
    const { stdout: help } = await execFileAsync(process.execPath, [CLI, 'worker', '--help']);
    const stdout = help.replace(/\s+/g, ' ');
    expect(stdout).toContain('--sandbox-uids <first-last>');
    expect(stdout).toContain('--trust-developers');
    const refused = await execFileAsync(process.execPath, [CLI, 'worker', '--database', 'postgres://x/y', '--sandbox-uids', '5-2']).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(refused?.code).toBe(1);
    expect(refused?.stderr).toMatch(/--sandbox-uids.*a uid range is FIRST-LAST, from 1000 up to 4294967294/);
  });
});

describe('procgate serve with an embedded PostgreSQL', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'pgc-'));
  });

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('initialises the data dir, prints one ready line with a working URL and stops cleanly on SIGTERM', async () => {
    const cli = startCli(['serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn']);
    const url = await cli.ready;
    expect(cli.stdout()).toMatch(
      /^procgate ready: postgres:\/\/procgate:[^@]+@127\.0\.0\.1:\d+\/procgate\n$/,
    );
    const password = (await readFile(path.join(dataDir, 'password'), 'utf8')).trim();
    expect(url).toContain(`procgate:${encodeURIComponent(password)}@`);
    const result = await query(url, 'SELECT current_user AS u, current_database() AS d');
    expect(result.rows[0]).toEqual({ u: 'procgate', d: 'procgate' });

    cli.child.kill('SIGTERM');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(existsSync(path.join(dataDir, 'pgdata', 'postmaster.pid'))).toBe(false);
    expect(existsSync(path.join(dataDir, 'procgate.pid'))).toBe(false);
  });

  it('reuses the data dir, keeps data and takes --password', async () => {
    const first = startCli(['serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn']);
    const url = await first.ready;
    await query(url, 'CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)');
    first.child.kill('SIGINT');
    expect((await first.exited).code).toBe(0);

    const second = startCli(['serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn'], {
      PROCGATE_PASSWORD: 'chosen secret',
    });
    const secondUrl = await second.ready;
    expect(secondUrl).toContain('procgate:chosen%20secret@');
    expect((await query(secondUrl, 'SELECT v FROM kept')).rows).toEqual([{ v: 7 }]);
    second.child.kill('SIGTERM');
    await second.exited;
  });

  it('refuses a second procgate on the same data dir with a clear error', async () => {
    const first = startCli(['serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn']);
    await first.ready;
    const second = startCli(['serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn']);
    const result = await second.exited;
    expect(result.code).toBe(1);
    expect(second.stderr()).toContain('is in use by another procgate');
    expect(second.stdout()).toBe('');
    first.child.kill('SIGTERM');
    await first.exited;
  });

  it('starts again without help after being killed with SIGKILL', async () => {
    const first = startCli(['serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn']);
    const url = await first.ready;
    await query(url, 'SELECT 1');
    const postmasterPid = Number.parseInt(
      (await readFile(path.join(dataDir, 'pgdata', 'postmaster.pid'), 'utf8')).split('\n')[0] ?? '',
      10,
    );
    first.child.kill('SIGKILL');
    await first.exited;
    expect(existsSync(path.join(dataDir, 'procgate.pid'))).toBe(true);

    const second = startCli(['serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn']);
    const secondUrl = await second.ready;
    expect((await query(secondUrl, 'SELECT v FROM kept')).rows).toEqual([{ v: 7 }]);
    expect(isProcessAlive(postmasterPid) && (await waitForExit(postmasterPid, 5000)) === false).toBe(false);
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  });
});

describe('procgate serve --database', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('cli_external');
  });

  afterAll(async () => {
    await db.drop();
  });

  it('serves an existing PostgreSQL and prints its URL without the password', async () => {
    const shared = sharedPostgres();
    const cli = startCli([
      'serve',
      '--port',
      '0',
      '--log-level',
      'warn',
      '--database',
      `postgres://${shared.user}:${encodeURIComponent(shared.password)}@${shared.host}:${shared.port}/${db.name}`,
    ]);
    const url = await cli.ready;
    expect(url).toMatch(new RegExp(`^postgres://procgate@127\\.0\\.0\\.1:\\d+/${db.name}$`));
    const withPassword = url.replace('procgate@', `procgate:${encodeURIComponent(shared.password)}@`);
    expect((await query(withPassword, 'SELECT current_database() AS d')).rows[0].d).toBe(db.name);
    cli.child.kill('SIGTERM');
    expect((await cli.exited).code).toBe(0);
  });

  it('fails clearly when that PostgreSQL cannot be reached', async () => {
    const cli = startCli(['serve', '--port', '0', '--database', 'postgres://nobody@127.0.0.1:1/none']);
    expect((await cli.exited).code).toBe(1);
    expect(cli.stderr()).toContain('procgate: could not start');
  });
});

describe('procgate serve shutdown', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'pgs-'));
  });

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('ends open sessions with a FATAL message on SIGINT and exits 0', async () => {
    const cli = startCli(['serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn']);
    const url = await cli.ready;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const ended = new Promise<unknown>((resolve) => client.on('error', resolve));
    cli.child.kill('SIGINT');
    expect(await ended).toMatchObject({ code: '57P01' });
    expect(await cli.exited).toEqual({ code: 0, signal: null });
  });
});
