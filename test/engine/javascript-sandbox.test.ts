import { createWriteStream, existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { JavascriptExecutor } from '../../src/engine/executors/javascript-executor.js';
import { SandboxUsers } from '../../src/engine/sandbox/sandbox-users.js';
import type { DatabaseLogin, SegmentDatabase } from '../../src/engine/segment-database.js';
import { StopReason, type TableFile } from '../../src/engine/segment-task.js';
import { silentLogger } from '../../src/log/logger.js';
import { JavascriptTasks, lines } from '../support/javascript-tasks.js';
import { isLiveProcess } from '../support/processes.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

/**
 * Javascript processes as sandbox uids (procgate runs as root here and in
 * CI), and ctx.db: a module reaches neither procgate's files nor its
 * process, and the database only with its segment's login.
 */

/** Far from the default range, so other suites' engines on this machine keep theirs. */
const UIDS = { first: 901_000, last: 901_099 };
const ROLE = `js_caller_${String(process.pid)}`;
const PASSWORD = 'a password of the test';

const tasks = new JavascriptTasks();
let db: TestDatabase;
let admin: pg.Client;
let sandbox: SandboxUsers | undefined;
let executor: JavascriptExecutor;
let modules: string;
let passwordFile: string;

/** A real login as ROLE: what SegmentLogins gives a segment, made by hand. */
const database: SegmentDatabase = {
  login: async (): Promise<DatabaseLogin> => {
    const { host, port } = db.direct;
    const environment = {
      PGHOST: String(host),
      PGPORT: String(port),
      PGDATABASE: db.name,
      PGUSER: ROLE,
      PGPASSWORD: PASSWORD,
      PGAPPNAME: 'procgate test segment',
    };
    return { host: String(host), port: Number(port), database: db.name, user: ROLE, password: PASSWORD, environment };
  },
};

beforeAll(async () => {
  db = await createTestDatabase('javascript_sandbox');
  admin = new pg.Client(db.direct);
  await admin.connect();
  await admin.query(`DROP ROLE IF EXISTS ${ROLE}`);
  await admin.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD '${PASSWORD}'`);
  await admin.query(`
    CREATE TABLE readable AS SELECT g AS id, 'row ' || g AS label FROM generate_series(1, 3) g;
    CREATE TABLE secret AS SELECT 'hidden' AS value;
    CREATE TABLE copied (id int, label text);
    GRANT SELECT ON readable TO ${ROLE};`);
  const dataDirectory = (await admin.query<{ data_directory: string }>('SHOW data_directory')).rows[0]!.data_directory;
  passwordFile = path.join(path.dirname(dataDirectory), 'password');
  sandbox = await SandboxUsers.open(UIDS, 8, silentLogger());
  modules = await mkdtemp(path.join(tmpdir(), 'procgate-js-sandbox-test-'));
  await chmod(modules, 0o711);
  executor = new JavascriptExecutor({
    logger: silentLogger(),
    killGraceMs: 300,
    poolSize: 2,
    moduleCacheDirectory: path.join(modules, 'js-modules'),
    sandbox,
  });
});

afterAll(async () => {
  await executor.close();
  await sandbox?.close();
  await rm(modules, { recursive: true, force: true });
  await admin.end();
  await db.drop();
  const cleaner = new pg.Client({ ...db.direct, database: 'postgres' });
  await cleaner.connect();
  await cleaner.query(`DROP ROLE IF EXISTS ${ROLE}`);
  await cleaner.end();
});

afterEach(() => tasks.cleanUp());

/** Whether an operation fails, and with which code. */
const ATTEMPT = `
  const attempt = (f) => { try { f(); return 'allowed'; } catch (error) { return error.code; } };
`;

describe('JavascriptExecutor as sandbox uids', () => {
  it('runs the module as a sandbox uid that reaches neither procgate\'s files nor its process', async () => {
    expect(sandbox, 'the tests run as root').toBeDefined();
    expect(existsSync(passwordFile)).toBe(true);
    const outcome = await executor.run(
      await tasks.task(
        `import { readFileSync, readdirSync } from 'node:fs';
        ${ATTEMPT}
        export default (ctx) => ({
          uid: process.getuid(),
          gid: process.getgid(),
          groups: process.getgroups(),
          password: attempt(() => readFileSync(ctx.params.password)),
          dataDir: attempt(() => readdirSync(ctx.params.dataDir)),
          environ: attempt(() => readFileSync('/proc/' + ctx.params.engine + '/environ')),
          signal: attempt(() => process.kill(ctx.params.engine, 0)),
          ownFiles: readFileSync('main.js', 'utf8').length > 0,
          tmpdir: process.env.TMPDIR === ctx.workdir.replace(/work$/, 'tmp'),
          home: process.env.HOME === ctx.workdir && ctx.env.HOME === ctx.workdir,
        })`,
        { params: { password: passwordFile, dataDir: path.join(path.dirname(passwordFile), 'pgdata'), engine: process.pid } },
      ),
    );
    expect(outcome).toMatchObject({ state: 'succeeded' });
    const results = outcome.results as { uid: number; gid: number; groups: number[] };
    expect(results.uid).toBeGreaterThanOrEqual(UIDS.first);
    expect(results.uid).toBeLessThanOrEqual(UIDS.last);
    expect(results.gid).toBe(results.uid);
    expect(results.groups).toEqual([results.gid]);
    expect(outcome.results).toMatchObject({
      password: 'EACCES',
      dataDir: 'EACCES',
      environ: 'EACCES',
      signal: 'EPERM',
      ownFiles: true,
      tmpdir: true,
      home: true,
    });
  });

  it('reads its inputs and writes its outputs in a directory handed over to its uid', async () => {
    const directory = await tasks.directory();
    const input: TableFile = {
      name: 'rows',
      path: path.join(directory, 'rows.txt'),
      columns: [
        { name: 'id', type: 'integer', typeOid: 23 },
        { name: 'label', type: 'text', typeOid: 25 },
      ],
    };
    await pipeline(admin.query(copyTo('COPY readable TO STDOUT')), createWriteStream(input.path));
    const output: TableFile = { ...input, name: 'copied', path: path.join(directory, 'copied.txt') };
    const task = await tasks.task(
      `export default async (ctx) => {
        for await (const row of ctx.inputs.rows) await ctx.outputs.copied.write({ ...row, label: row.label.toUpperCase() });
      }`,
      { directory, inputs: [input], outputs: [output] },
    );
    expect(await executor.run(task)).toMatchObject({ state: 'succeeded' });
    expect(await readFile(output.path, 'utf8')).toBe('1\tROW 1\n2\tROW 2\n3\tROW 3\n');
  });

  it('keeps one caller\'s process out of another caller\'s segment directory', async () => {
    const hold = new AbortController();
    const holder = await tasks.task(`export default (ctx) => new Promise((resolve) => ctx.signal.onabort = resolve)`, {
      caller: 'alice',
      signal: hold.signal,
    });
    const holding = executor.run(holder);
    const peek = await tasks.task(
      `import { readdirSync } from 'node:fs';
      ${ATTEMPT}
      export default (ctx) => ({ list: attempt(() => readdirSync(ctx.params.other)), uid: process.getuid() })`,
      { caller: 'bob', params: { other: path.join(holder.directory, 'work') } },
    );
    const outcome = await executor.run(peek);
    hold.abort(StopReason.killed);
    await holding;
    expect(outcome.results).toMatchObject({ list: 'EACCES' });
  });

  it('kills what a killed module started, as its uid is given back', async () => {
    const abort = new AbortController();
    const task = await tasks.task(
      `import { spawn } from 'node:child_process';
      export default (ctx) => {
        const sleeper = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
        ctx.result('sleeper', sleeper.pid);
        for (;;) {}
      }`,
      { signal: abort.signal, report: (event) => event.kind === 'result' && abort.abort(StopReason.killed) },
    );
    const outcome = await executor.run(task);
    expect(outcome).toMatchObject({ state: 'killed' });
    const sleeper = (outcome.results as { sleeper: number }).sleeper;
    await expect.poll(() => isLiveProcess(sleeper)).toBe(false);
  });
});

describe('ctx.db', () => {
  it('queries as the caller: its rights, its tables, nothing more', async () => {
    const outcome = await executor.run(
      await tasks.task(
        `export default async (ctx) => {
          const who = await ctx.db.query('SELECT current_user AS name, session_user AS session');
          const rows = await ctx.db.query('SELECT id, label FROM readable WHERE id >= $1 ORDER BY id', [2]);
          const refused = await ctx.db.query('SELECT * FROM secret').then(() => 'allowed', (error) => error.code);
          const env = await ctx.db.environment();
          return { who: who.rows[0], rows: rows.rows, rowCount: rows.rowCount, fields: rows.fields.map((f) => f.name),
                   command: rows.command, refused, user: env.PGUSER };
        }`,
        { database },
      ),
    );
    expect(outcome).toMatchObject({ state: 'succeeded' });
    expect(outcome.results).toEqual({
      who: { name: ROLE, session: ROLE },
      rows: [
        { id: 2, label: 'row 2' },
        { id: 3, label: 'row 3' },
      ],
      rowCount: 2,
      fields: ['id', 'label'],
      command: 'SELECT',
      refused: '42501',
      user: ROLE,
    });
  });

  it('closes its connection when the segment settles', async () => {
    const outcome = await executor.run(
      await tasks.task(
        `export default async (ctx) => {
          await ctx.db.query('SELECT 1');
          setTimeout(() => ctx.db.query('SELECT 1').catch((error) => console.log('late query:', error.message)), 1);
        }`,
        { database },
      ),
    );
    expect(outcome).toMatchObject({ state: 'succeeded' });
    await expect
      .poll(async () => (await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1', [ROLE])).rows[0])
      .toEqual({ n: 0 });
  });

  it('rejects with a clear error when the segment has no login', async () => {
    const outcome = await executor.run(await tasks.task(`export default (ctx) => ctx.db.query('SELECT 1')`));
    expect(outcome).toMatchObject({ state: 'failed', message: 'ctx.db: this engine gives segments no database login' });
    expect(lines(outcome, 'stderr')[0]).toBe('Error: ctx.db: this engine gives segments no database login');
  });
});
