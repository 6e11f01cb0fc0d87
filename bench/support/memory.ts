import { readFileSync } from 'node:fs';

/** A /proc/<pid>/status figure in MB: VmRSS now, VmHWM the peak so far. */
export function procStatusMb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (match?.[1] === undefined) throw new Error(`no ${field} in /proc/${String(pid)}/status`);
  return Number(match[1]) / 1024;
}

/** A process's VmRSS every 50 ms: which measurement made the peak. */
export class RssSampler {
  private peak = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    this.sample();
    this.timer = setInterval(() => this.sample(), 50);
  }

  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }

  private sample(): void {
    try {
      this.peak = Math.max(this.peak, procStatusMb(this.pid, 'VmRSS'));
    } catch {
      // Gone: the peak so far stands.
    }
  }
}
