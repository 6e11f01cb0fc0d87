import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time from /proc (Linux): of procgate's process (with its javascript
 * processes and the programs it spawned), of one PostgreSQL cluster (its postmaster, the
 * live backends, and the backends that exited), and of the whole machine,
 * so a measurement says which side was busy and whether the cores were
 * saturated, other work on the machine included.
 */

const TICKS_PER_SECOND = clockTicks();

function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

interface ProcStat {
  readonly ppid: number;
  /** utime + stime, ticks. */
  readonly own: number;
  /** cutime + cstime: children it has waited for, ticks. */
  readonly children: number;
}

function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name may hold spaces and parentheses: the fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): ppid is field 4, utime..cstime fields 14..17.
  const field = (n: number): number => Number(fields[n - 3]);
  return { ppid: field(4), own: field(14) + field(15), children: field(16) + field(17) };
}

/**
 * Seconds of CPU used by a process and every live child, plus the children
 * it reaped (a postmaster and its backends; procgate and its javascript
 * processes and programs).
 */
export function treeCpuSeconds(rootPid: number): number {
  const root = procStat(rootPid);
  if (root === undefined) return Number.NaN;
  let ticks = root.own + root.children;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = procStat(Number(name));
    if (stat?.ppid === rootPid) ticks += stat.own + stat.children;
  }
  return ticks / TICKS_PER_SECOND;
}

/** The machine's busy and total CPU seconds (all cores) so far. */
export function machineCpuSeconds(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user).
  const total = values.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: (total - idle) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND };
}

/** CPU used between `start()` and `stop()`. */
export interface CpuUsage {
  /** Seconds of procgate's node process, its javascript processes and the programs it ran. */
  readonly procgate: number;
  /** Seconds of the PostgreSQL cluster. */
  readonly postgres: number;
  /** Busy share of all cores over the interval, 0..1, everything on the machine included. */
  readonly machineBusy: number;
}

export class CpuMeter {
  private readonly procgate0: number;
  private readonly postgres0: number;
  private readonly machine0: { busy: number; total: number };

  constructor(
    private readonly procgatePid: number,
    private readonly postmasterPid: number,
  ) {
    this.procgate0 = treeCpuSeconds(procgatePid);
    this.postgres0 = treeCpuSeconds(postmasterPid);
    this.machine0 = machineCpuSeconds();
  }

  stop(): CpuUsage {
    const machine = machineCpuSeconds();
    return {
      procgate: treeCpuSeconds(this.procgatePid) - this.procgate0,
      postgres: treeCpuSeconds(this.postmasterPid) - this.postgres0,
      machineBusy: (machine.busy - this.machine0.busy) / Math.max(1e-9, machine.total - this.machine0.total),
    };
  }
}
