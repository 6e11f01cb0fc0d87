import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { eventually, useProxiedDatabase } from '../support/test-database.js';

const t = useProxiedDatabase('psql');

const execFileAsync = promisify(execFile);

let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'psql-'));
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/** How many sessions of the test database run `SELECT pg_sleep(10)` now. */
async function sleepingQueries(): Promise<number> {
  const client = new pg.Client(t.db.direct);
  await client.connect();
  const result = await client.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND state = 'active' AND query = 'SELECT pg_sleep(10)'",
    [t.db.name],
  );
  await client.end();
  return result.rows[0]?.n ?? 0;
}

/** Runs psql against procgate; returns stdout. */
async function psql(...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(
    'psql',
    [t.proxy.url(t.db.name), '--no-psqlrc', '--quiet', '--set', 'ON_ERROR_STOP=1', ...args],
    { cwd: workDir, env: { ...process.env, PGCONNECT_TIMEOUT: '5' } },
  );
  return stdout;
}

describe('psql through procgate', () => {
  it('runs -c with several statements', async () => {
    const out = await psql(
      '--tuples-only',
      '--no-align',
      '-c',
      "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL); INSERT INTO items (name) VALUES ('a'), ('b'); SELECT string_agg(name, ',' ORDER BY id) FROM items",
    );
    expect(out.trim()).toBe('a,b');
  });

  it('runs a script with -f', async () => {
    const script = path.join(workDir, 'script.sql');
    await writeFile(
      script,
      [
        'CREATE TABLE scores (player text, score int);',
        "INSERT INTO scores VALUES ('x', 3), ('y', 5), ('x', 4);",
        '-- a comment; with a semicolon',
        "SELECT player || '=' || sum(score) FROM scores GROUP BY player ORDER BY player;",
        '',
      ].join('\n'),
    );
    const out = await psql('--tuples-only', '--no-align', '-f', script);
    expect(out.trim().split('\n')).toEqual(['x=7', 'y=5']);
  });

  it('describes with \\d and \\dt', async () => {
    const described = await psql('-c', '\\d items');
    expect(described).toContain('Table "public.items"');
    expect(described).toContain('name   | text');
    expect(described).toContain('"items_pkey" PRIMARY KEY, btree (id)');
    const tables = await psql('-c', '\\dt');
    expect(tables).toMatch(/public \| items\s+\| table/);
    expect(tables).toMatch(/public \| scores\s+\| table/);
  });

  it('copies a file in and out with \\copy', async () => {
    const input = path.join(workDir, 'in.csv');
    const output = path.join(workDir, 'out.csv');
    const rows = Array.from({ length: 1000 }, (_, i) => `${i},"name, ${i}"`);
    await writeFile(input, `${rows.join('\n')}\n`);
    await psql('-c', 'CREATE TABLE csv_t (id int, name text)');
    await psql('-c', `\\copy csv_t FROM '${input}' WITH (FORMAT csv)`);
    await psql('-c', `\\copy (SELECT * FROM csv_t ORDER BY id) TO '${output}' WITH (FORMAT csv)`);
    expect(await readFile(output, 'utf8')).toBe(`${rows.join('\n')}\n`);
  });

  it("reports errors with PostgreSQL's message and position", async () => {
    const failure = await psql('-c', 'SELECT * FROM no_such_table').catch(
      (error: { stderr: string }) => error,
    );
    expect((failure as { stderr: string }).stderr).toContain('relation "no_such_table" does not exist');
    expect((failure as { stderr: string }).stderr).toContain('LINE 1: SELECT * FROM no_such_table');
  });

  it('cancels a running query on Ctrl-C (SIGINT), as psql does with PostgreSQL', async () => {
    const child = spawn('psql', [t.proxy.url(t.db.name), '--no-psqlrc', '-c', 'SELECT pg_sleep(10)'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // Interrupted only once the query runs: before that, a busy machine may not have psql's handler in place yet.
    await eventually(sleepingQueries, (n) => n === 1, 10_000);
    const started = Date.now();
    child.kill('SIGINT');
    const code = await exited;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(code).toBe(1);
    expect(stderr).toContain('canceling statement due to user request');
  });
});
