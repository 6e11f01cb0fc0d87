// @ts-check
/**
 * Finding and killing every process of a sandbox uid. Plain JavaScript,
 * so the command spawner (command-spawner.js) sweeps a program's uid the
 * moment the program exits, and the engine when it gives a uid back.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';

/**
 * SIGKILLs every process running as `uid` (real or effective), again
 * until none is left, so a process forking meanwhile is caught too.
 * Returns how many were killed.
 * @param {number} uid
 * @returns {number}
 */
export function killProcessesOf(uid) {
  let killed = 0;
  for (let round = 0; round < 20; round += 1) {
    const pids = processesOf(uid);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed += 1;
      } catch {
        // Gone already.
      }
    }
  }
  return killed;
}

/**
 * Live processes whose owner is `uid` (zombies are dead already).
 * @param {number} uid
 * @returns {number[]}
 */
export function processesOf(uid) {
  /** @type {number[]} */
  const pids = [];
  for (const name of readdirSync('/proc')) {
    // Process directories only: their names are digits.
    const first = name.charCodeAt(0);
    if (first < 48 || first > 57) continue;
    // Gone while we looked: no entry, no error.
    if (statSync(`/proc/${name}`, { throwIfNoEntry: false })?.uid !== uid) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state !== 'Z' && state !== 'X') pids.push(Number(name));
    } catch {
      // Exited while we looked.
    }
  }
  return pids;
}
