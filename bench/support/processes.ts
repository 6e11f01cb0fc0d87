import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import net from 'node:net';

/** What a finished command printed, and how it ended. */
export interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion, collecting its output; never rejects on a non-zero exit. */
export function runCommand(
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Like runCommand, but a non-zero exit is an error carrying the command's output. */
export async function runChecked(
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): Promise<CommandResult> {
  const result = await runCommand(command, args, options);
  if (result.code !== 0) {
    const output = `${result.stdout}${result.stderr}`.trim().slice(-3000);
    throw new Error(
      `${command} ${args.join(' ')} failed (code ${result.code}, signal ${result.signal}):\n${output}`,
    );
  }
  return result;
}

/**
 * Stops a long-running child: `signal` first, SIGKILL if it has not exited
 * within `graceMs`, so a wedged server can never hang the bench's cleanup.
 */
export async function stopChild(
  child: ChildProcess,
  signal: NodeJS.Signals,
  graceMs = 10_000,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** A TCP port free on loopback right now (another process could still take it before we do). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Keeps the last `limit` characters a child wrote, for error messages. */
export function captureTail(child: ChildProcess, limit = 4000): () => string {
  let tail = '';
  const onData = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-limit);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  return () => tail;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
