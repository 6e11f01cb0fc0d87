import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Waits until `pid` has exited, up to `timeoutMs`; true if it did. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isProcessAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

/** The command line of a process, where /proc tells it; undefined elsewhere. */
export async function processCommandLine(pid: number): Promise<string | undefined> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ');
  } catch {
    return undefined;
  }
}

/** uid and gid of a system user, or undefined when there is none. */
export async function systemUser(name: string): Promise<{ uid: number; gid: number } | undefined> {
  try {
    const [uid, gid] = await Promise.all([
      execFileAsync('id', ['-u', name]).then((out) => Number.parseInt(out.stdout, 10)),
      execFileAsync('id', ['-g', name]).then((out) => Number.parseInt(out.stdout, 10)),
    ]);
    return { uid, gid };
  } catch {
    return undefined;
  }
}

export async function run(command: string, args: readonly string[]): Promise<void> {
  await execFileAsync(command, [...args]);
}

/**
 * When a process started, in clock ticks since boot (Linux's
 * /proc/<pid>/stat, field 22); undefined for a process that is gone or a
 * zombie, and where /proc does not tell. With the pid it names one
 * process for good: a reused pid has another start time.
 */
export function processStartTime(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // pid (comm) state ppid ...: comm may hold spaces and parentheses; starttime is the 20th field after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  const start = Number(fields[19]);
  return Number.isSafeInteger(start) ? start : undefined;
}
