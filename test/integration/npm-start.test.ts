import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForExit } from '../../src/postgres/process-utils.js';
import { isLiveProcess } from '../support/processes.js';

const execFileAsync = promisify(execFile);

/** How long a stop may take, PostgreSQL's shutdown included. */
const STOP_BOUND_MS = 20_000;

/** Resolves when `child` has exited, with how. */
function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** Whether something accepts connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function pidIn(file: string): Promise<number> {
  return Number.parseInt((await readFile(file, 'utf8')).split('\n')[0] ?? '', 10);
}

/**
 * `npm start` as a supervisor or a script runs it: a signal to the npm
 * process must stop procgate and its embedded PostgreSQL, not orphan them
 * (npm signals its child, the shell of the script, which used to die
 * without passing the signal on).
 */
describe('npm start', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'pgnpm-'));
    // A stale build would make npm start rebuild dist/ under the other tests' feet.
    const fresh = await execFileAsync(process.execPath, ['scripts/build-if-stale.mjs', '--check']).then(
      () => true,
      () => false,
    );
    if (!fresh) throw new Error('dist/ is older than the sources: run npm run build first');
  });

  /** procgate processes started, stopped here should a test fail with them running. */
  const started: number[] = [];

  afterAll(async () => {
    for (const pid of started) if (isLiveProcess(pid)) process.kill(pid, 'SIGTERM');
    for (const pid of started) await waitForExit(pid, STOP_BOUND_MS);
    await rm(dataDir, { recursive: true, force: true });
  });

  it.each(['SIGTERM', 'SIGINT'] as const)(
    'starts without building when nothing changed, and %s to npm stops procgate and PostgreSQL',
    async (signal) => {
      const npm = spawn('npm', ['start', '--', '--port', '0', '--data-dir', dataDir], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = exitOf(npm);
      let stdout = '';
      let stderr = '';
      npm.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const url = await new Promise<string>((resolve, reject) => {
        npm.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          const match = /^procgate ready: (\S+)$/m.exec(stdout);
          if (match?.[1] !== undefined) resolve(match[1]);
        });
        void exited.then(() => reject(new Error(`npm start exited before ready: ${stderr.slice(-2000)}`)));
      });
      expect(stdout).not.toContain('npm run build');
      const port = Number(new URL(url).port);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      client.on('error', () => undefined);
      expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      const procgatePid = await pidIn(path.join(dataDir, 'procgate.pid'));
      started.push(procgatePid);
      const postmasterPid = await pidIn(path.join(dataDir, 'pgdata', 'postmaster.pid'));
      expect(procgatePid).not.toBe(npm.pid);

      const signalled = Date.now();
      npm.kill(signal);
      const result = await Promise.race([
        exited,
        new Promise((resolve) => setTimeout(() => resolve('still running'), STOP_BOUND_MS)),
      ]);
      expect(result, stderr.slice(-2000)).toEqual({ code: 0, signal: null });
      expect(Date.now() - signalled).toBeLessThan(STOP_BOUND_MS);
      expect(isLiveProcess(procgatePid)).toBe(false);
      expect(isLiveProcess(postmasterPid)).toBe(false);
      expect(await listening(port)).toBe(false);
      expect(existsSync(path.join(dataDir, 'procgate.pid'))).toBe(false);
      expect(existsSync(path.join(dataDir, 'pgdata', 'postmaster.pid'))).toBe(false);
      await client.end().catch(() => undefined);
    },
    60_000,
  );

  it('stops cleanly on Ctrl-C in a terminal, which signals npm, procgate and PostgreSQL at once', async () => {
    // script(1) runs npm start on a terminal of its own; ^C typed there is the terminal's SIGINT to its foreground group.
    // `exec`: script's `$SHELL -c` would otherwise stay between (dash does not exec its last command) and die of the ^C itself.
    const terminal = spawn('script', ['-qefc', `exec npm start -- --port 0 --data-dir '${dataDir}'`, '/dev/null'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const exited = exitOf(terminal);
    let output = '';
    terminal.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    await new Promise<void>((resolve, reject) => {
      terminal.stdout.on('data', () => {
        if (output.includes('procgate ready: ')) resolve();
      });
      void exited.then(() => reject(new Error(`npm start exited before ready: ${output.slice(-2000)}`)));
    });
    const procgatePid = await pidIn(path.join(dataDir, 'procgate.pid'));
    started.push(procgatePid);
    const postmasterPid = await pidIn(path.join(dataDir, 'pgdata', 'postmaster.pid'));
    terminal.stdin.write('\x03');
    const result = await Promise.race([
      exited,
      new Promise((resolve) => setTimeout(() => resolve('still running'), STOP_BOUND_MS)),
    ]);
    expect(result, output.slice(-2000)).toEqual({ code: 0, signal: null });
    expect(isLiveProcess(procgatePid)).toBe(false);
    expect(isLiveProcess(postmasterPid)).toBe(false);
    expect(existsSync(path.join(dataDir, 'procgate.pid'))).toBe(false);
    // Colours and npm's spinner are terminal codes: left out.
    const text = output.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*[mGK]`, 'g'), '');
    // In order: the engine and the sessions first, PostgreSQL (which had its own process group) last.
    expect(text).toMatch(/INFO: shutting down \{"signal":"SIGINT"\}/);
    expect(text).toMatch(/INFO: stopped/);
    expect(text).not.toMatch(/WARN|ERROR/);
  }, 60_000);
});
