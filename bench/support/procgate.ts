import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { captureTail, stopChild } from './processes.js';
import { progress } from './settings.js';

const CLI = path.resolve('dist/cli/main.js');
const READY_TIMEOUT_MS = 30_000;

export interface RunningProcgate {
  readonly port: number;
  /** The node process serving procgate (its engine and worker threads included). */
  readonly pid: number;
  stop(): Promise<void>;
}

export interface ProcgateOptions {
  /** Default `warn`. */
  readonly logLevel?: string;
  /** More `serve` arguments, such as `['--slots', '4']`. */
  readonly args?: readonly string[];
  /** Options for node itself, such as `['--cpu-prof']`. */
  readonly nodeArgs?: readonly string[];
  /** Each line procgate writes to stderr once ready; default: passed on to ours. */
  readonly onStderrLine?: (line: string) => void;
}

/**
 * Starts the built procgate CLI as its own process, so its CPU time is not
 * shared with this driver, and resolves once it prints its ready line.
 */
export async function startProcgate(databaseUrl: string, options: ProcgateOptions = {}): Promise<RunningProcgate> {
  const child = spawn(
    process.execPath,
    [
      ...(options.nodeArgs ?? []),
      CLI,
      'serve',
      '--database',
      databaseUrl,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--log-level',
      options.logLevel ?? 'warn',
      ...(options.args ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const tail = captureTail(child);
  try {
    const port = await readyPort(child, tail);
    // Warnings procgate logs during the runs would point at bugs: pass them on.
    const onLine = options.onStderrLine ?? ((line: string) => progress(`procgate: ${line}`));
    let partial = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line !== '') onLine(line);
    });
    if (child.pid === undefined) throw new Error('procgate has no process id');
    return { port, pid: child.pid, stop: () => stopChild(child, 'SIGTERM') };
  } catch (error) {
    await stopChild(child, 'SIGTERM');
    throw error;
  }
}

/** node's flags for a CPU profile of procgate when BENCH_CPU_PROF names a directory: each writes one there when it stops. */
export function cpuProfileArgs(env: NodeJS.ProcessEnv = process.env): string[] {
  const dir = env['BENCH_CPU_PROF'];
  return dir === undefined || dir === '' ? [] : ['--cpu-prof', '--cpu-prof-dir', path.resolve(dir)];
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
