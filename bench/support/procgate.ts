import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { captureTail, stopChild } from './processes.js';

const CLI = path.resolve('dist/cli/main.js');
const READY_TIMEOUT_MS = 30_000;

export interface RunningProcgate {
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * Starts the built procgate CLI as its own process, so its CPU time is not
 * shared with this driver, and resolves once it prints its ready line.
 */
export async function startProcgate(databaseUrl: string): Promise<RunningProcgate> {
  const child = spawn(
    process.execPath,
    [CLI, 'serve', '--database', databaseUrl, '--host', '127.0.0.1', '--port', '0', '--log-level', 'warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const tail = captureTail(child);
  try {
    const port = await readyPort(child, tail);
    // Warnings procgate logs during the runs would point at bugs: pass them on.
    child.stderr?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') progress(`procgate: ${line}`);
    });
    return { port, stop: () => stopChild(child, 'SIGTERM') };
  } catch (error) {
    await stopChild(child, 'SIGTERM');
    throw error;
  }
}

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

function readyPort(child: ChildProcess, tail: () => string): Promise<number> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(
      () => reject(new Error(`procgate not ready after ${READY_TIMEOUT_MS} ms: ${tail()}`)),
      READY_TIMEOUT_MS,
    );
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      clearTimeout(timer);
      reject(new Error(`procgate exited (code ${code}, signal ${signal}) before ready: ${tail()}`));
    };
    child.once('exit', onExit);
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const match = /^procgate ready: postgres:\/\/[^\s]*:(\d+)\/\S*$/m.exec(stdout);
      if (match?.[1] === undefined) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      resolve(Number.parseInt(match[1], 10));
    });
  });
}
