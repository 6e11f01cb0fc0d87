import { execFile } from 'node:child_process';
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
