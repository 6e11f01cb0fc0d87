import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

export const CLI = path.resolve('dist/cli/main.js');

export interface RunningCli {
  readonly child: ChildProcess;
  /** Resolves with the URL of the ready line, or rejects when the process exits first. */
  readonly ready: Promise<string>;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `procgate <args>` from the build (as another user when `as` says) and watches for its ready line. */
export function startCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  as?: { readonly uid: number; readonly gid: number },
): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...as,
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', () => {
      const match = /^procgate (?:worker )?ready: (\S+)/m.exec(stdout);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    void exited.then(({ code, signal }) =>
      reject(
        new Error(`procgate exited (code ${code}, signal ${signal}) before ready: ${stderr.slice(-2000)}`),
      ),
    );
  });
  ready.catch(() => undefined);
  return { child, ready, stdout: () => stdout, stderr: () => stderr, exited };
}
