import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCli, startCli } from '../support/cli.js';
import { groupsWorkingUnder, killGroups } from '../support/processes.js';
import { connectionUrl, eventually, useProxiedDatabase } from '../support/test-database.js';

/**
 * Where engines keep their run-time files: segments' directories (users'
 * rows among them) and the javascript module cache live in a folder of the
 * engine's own under the run directory, gone when it stops; what a killed
 * engine left is removed by the next engine to start there, and a live
 * engine's folder is never touched.
 */

const t = useProxiedDatabase('run_directory', { statements: true });
const runDirectory = realpathSync(mkdtempSync(path.join(tmpdir(), 'pgrun-')));
const started: RunningCli[] = [];
let client: pg.Client;

/** The folders of engines in `directory`, by the pid in their name. */
function engineFolders(directory: string): Map<number, string> {
  const folders = new Map<number, string>();
  if (!existsSync(directory)) return folders;
  for (const name of readdirSync(directory)) {
    const match = /^engine\..+\.(\d+)\.\d+\.[0-9a-f]+$/.exec(name);
    if (match !== null) folders.set(Number(match[1]), path.join(directory, name));
  }
  return folders;
}

async function startWorker(): Promise<RunningCli> {
  const cli = startCli([
    'worker',
    '--database',
    connectionUrl(t.db.direct),
    '--run-dir',
    runDirectory,
    '--slots',
    '1',
    '--log-level',
    'warn',
  ]);
  started.push(cli);
  await cli.ready;
  return cli;
}

beforeAll(async () => {
  client = new pg.Client(t.proxy.config(t.db.name));
  await client.connect();
  await client.query('CREATE TABLE private_rows AS SELECT g AS id, md5(g::text) AS secret FROM generate_series(1, 5) g');
  await client.query(
    `CREATE PROCEDURE hold(t TABLE) LANGUAGE command COMMAND 'sleep' ARGS ('60')`,
  );
});

afterAll(async () => {
  for (const cli of started) {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
    await cli.exited;
  }
  killGroups(groupsWorkingUnder(runDirectory));
  rmSync(runDirectory, { recursive: true, force: true });
  await client.end();
});

describe('the run directory', () => {
  it('keeps a segment in its engine\'s folder; the next engine removes the folder of one killed with SIGKILL, never a live one\'s', async () => {
    const doomed = await startWorker();
    const { rows } = await client.query<{ run_id: string }>('EXECUTE PROCEDURE hold(t => TABLE (private_rows)) WITH (segments = 1)');
    const runId = rows[0]!.run_id;
    await eventually(
      async () => (await client.query('SELECT 1 FROM procgate.run_segments WHERE run_id = $1 AND pid IS NOT NULL', [runId])).rowCount,
      (n) => n === 1,
      15_000,
    );
    const doomedFolder = engineFolders(runDirectory).get(doomed.child.pid!);
    expect(doomedFolder).toBeDefined();
    const [segment] = readdirSync(path.join(doomedFolder!, 'segments'));
    const input = readFileSync(path.join(doomedFolder!, 'segments', segment!, 'input-1.csv'), 'utf8');
    // A user's row: md5('1').
    expect(input).toContain('c4ca4238a0b923820dcc509a6f75849b');

    // Another engine sharing the run directory, alive throughout.
    const bystander = await startWorker();
    const bystanderFolder = engineFolders(runDirectory).get(bystander.child.pid!);
    expect(bystanderFolder).toBeDefined();

    doomed.child.kill('SIGKILL');
    expect(await doomed.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // Its program, in a process group of its own, would outlive it: it goes too, as with the machine.
    killGroups(groupsWorkingUnder(doomedFolder!));
    expect(existsSync(path.join(doomedFolder!, 'segments', segment!, 'input-1.csv'))).toBe(true);

    const next = await startWorker();
    const folders = engineFolders(runDirectory);
    expect(existsSync(doomedFolder!)).toBe(false);
    expect(folders.get(bystander.child.pid!)).toBe(bystanderFolder);
    expect(existsSync(path.join(bystanderFolder!, 'segments'))).toBe(true);
    expect([...folders.keys()].sort()).toEqual([bystander.child.pid!, next.child.pid!].sort());

    await client.query('KILL RUN $1', [runId]);
    for (const cli of [bystander, next]) {
      cli.child.kill('SIGTERM');
      expect(await cli.exited).toEqual({ code: 0, signal: null });
    }
    // A stopped engine takes its folder with it.
    expect(engineFolders(runDirectory).size).toBe(0);
  }, 60_000);
});

describe('procgate serve with the embedded PostgreSQL', () => {
  it('keeps the javascript module cache in its data dir, its own, and removes it when it stops', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'pgrunserve-'));
    const cli = startCli(['serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn']);
    started.push(cli);
    try {
      const url = await cli.ready;
      const server = new pg.Client({ connectionString: url });
      await server.connect();
      try {
        await server.query(`CREATE PROCEDURE hello() LANGUAGE javascript
          FILES ('main.js' = $js$ export default (ctx) => { ctx.result('hello', 'world'); }; $js$)`);
        const { rows } = await server.query<{ state: string }>('CALL hello()');
        expect(rows[0]?.state).toBe('succeeded');
      } finally {
        await server.end();
      }
      const folders = [...engineFolders(path.join(dataDir, 'run')).values()];
      expect(folders).toHaveLength(1);
      expect(readdirSync(path.join(folders[0]!, 'js-modules'))).toHaveLength(1);
      cli.child.kill('SIGTERM');
      expect(await cli.exited).toEqual({ code: 0, signal: null });
      expect(existsSync(folders[0]!)).toBe(false);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
