import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';

/** What /proc says of each live (not zombie) process: its pid, process group and working directory. */
interface LiveProcess {
  readonly pid: number;
  readonly group: number;
  readonly cwd: string | undefined;
}

/**
 * Live processes from /proc. Zombies are left out: they are dead, and
 * whether they are reaped depends on the machine's init.
 */
function liveProcesses(): LiveProcess[] {
  const processes: LiveProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
    const [state, , group] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (state === 'Z' || state === 'X') continue;
    let cwd: string | undefined;
    try {
      cwd = readlinkSync(`/proc/${entry}/cwd`);
    } catch {
      cwd = undefined;
    }
    processes.push({ pid: Number(entry), group: Number(group), cwd });
  }
  return processes;
}

/** Whether `pid` is a live process: a zombie, dead but not yet reaped, is not. */
export function isLiveProcess(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Live members of a process group. */
export function liveGroupMembers(pgid: number): number[] {
  return liveProcesses()
    .filter((process) => process.group === pgid)
    .map((process) => process.pid);
}

/** Process groups with a live member working somewhere under `directory`. */
export function groupsWorkingUnder(directory: string): number[] {
  const prefix = directory.endsWith(path.sep) ? directory : directory + path.sep;
  const groups = liveProcesses()
    .filter((process) => process.cwd?.startsWith(prefix) === true)
    .map((process) => process.group);
  return [...new Set(groups)];
}

/** SIGKILLs process groups; one already gone is fine. */
export function killGroups(groups: readonly number[]): void {
  for (const group of groups) {
    try {
      process.kill(-group, 'SIGKILL');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
}
