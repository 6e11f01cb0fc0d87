import type { Logger } from '../../log/logger.js';
import type { SandboxUsers } from '../sandbox/sandbox-users.js';
import { JavascriptProcess } from './javascript-process.js';

export interface JavascriptPoolOptions {
  /**
   * Processes kept for callers' procedures (the engine's slots): past
   * this, the process idle the longest goes to make room. More are
   * started when more segments run at once.
   */
  readonly size: number;
  /** Warm processes kept unbound, for the next caller or procedure not served yet. */
  readonly spares: number;
  /** A process is replaced after running this many segments, which bounds what its module keeps. */
  readonly recycleAfter: number;
  /** Each process's old-generation heap; exceeding it fails the process's segment. */
  readonly memoryLimitMb: number;
  /** The uids processes run as; undefined: they run as the engine's own user. */
  readonly sandbox: SandboxUsers | undefined;
  readonly logger: Logger;
}

/** The spares a pool of `size` keeps by default. */
export function defaultSpares(size: number): number {
  return Math.min(2, size);
}

/**
 * Node processes kept warm for javascript segments: starting one costs
 * tens of milliseconds (more with its first import of pg), a message to
 * a warm one almost nothing.
 *
 * A process serves one caller (the role that executed the run) and one
 * procedure (its set of FILES) for its whole life: its first segment
 * binds it, and later segments of that caller and procedure reuse it, so
 * module-level state never passes from one caller to another. A segment
 * of a caller and procedure that has no idle process takes a spare (a
 * warm process bound to nothing yet), and a new spare is started after
 * it, off the segment's path. Bound processes are kept up to the pool's
 * size; past it, the one idle the longest is retired. A process that
 * exits (killed, out of memory, crashed, recycled) is not replaced until
 * a segment needs one; only spares are kept topped up.
 */
export class JavascriptProcessPool {
  private readonly processes = new Set<JavascriptProcess>();
  /** Idle processes, the one idle the longest first. */
  private readonly idle: JavascriptProcess[] = [];
  private fillScheduled = false;
  private closed = false;

  constructor(private readonly options: JavascriptPoolOptions) {}

  /**
   * A process for a segment of `caller` running module set `moduleKey`:
   * an idle one bound to both, else a spare (warm first), else a new one.
   */
  async acquire(caller: string, moduleKey: string): Promise<JavascriptProcess> {
    if (this.closed) throw new Error('the javascript process pool is closed');
    const binding = `${caller}\u0000${moduleKey}`;
    const process =
      this.takeIdle((candidate) => candidate.binding === binding) ??
      this.takeIdle((candidate) => candidate.binding === undefined && candidate.online) ??
      this.takeIdle((candidate) => candidate.binding === undefined) ??
      (await this.startForSegment());
    process.binding = binding;
    process.segments += 1;
    this.makeRoom();
    this.scheduleFill();
    return process;
  }

  /** A process whose segment ended with its module settled: kept for the next, unless due for recycling. */
  release(process: JavascriptProcess): void {
    process.detach();
    if (!this.processes.has(process) || !process.alive) return;
    if (process.segments >= this.options.recycleAfter) {
      void this.retire(process);
      return;
    }
    this.idle.push(process);
    this.makeRoom();
  }

  /** Kills a process (one whose segment would not stop, or one due for replacement). */
  retire(process: JavascriptProcess): Promise<void> {
    this.forget(process);
    this.scheduleFill();
    return process.kill();
  }

  /** Kills every process; segments still running on one end as its exit says. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.processes].map((process) => this.retire(process)));
  }

  /** The most recently idle process that `matches`, taken out of the idle list. */
  private takeIdle(matches: (process: JavascriptProcess) => boolean): JavascriptProcess | undefined {
    // One that has exited waits a moment for its last output before it leaves the list.
    const index = this.idle.findLastIndex((process) => process.alive && matches(process));
    return index === -1 ? undefined : this.idle.splice(index, 1)[0];
  }

  /**
   * A new process for a segment that found none idle. With every sandbox
   * uid in use, the process idle the longest gives its own back first.
   */
  private async startForSegment(): Promise<JavascriptProcess> {
    try {
      return this.start();
    } catch (error) {
      const oldest = this.idle[0];
      if (oldest === undefined) throw error;
      await this.retire(oldest);
      return this.start();
    }
  }

  /** Retires the processes idle the longest while more processes are bound than the pool keeps. */
  private makeRoom(): void {
    let bound = 0;
    for (const process of this.processes) if (process.binding !== undefined) bound += 1;
    while (bound > this.options.size) {
      const oldest = this.idle.find((process) => process.binding !== undefined);
      if (oldest === undefined) return;
      void this.retire(oldest);
      bound -= 1;
    }
  }

  /** Tops the spares up soon after, not on the segment's path: starting a process blocks for a few milliseconds. */
  private scheduleFill(): void {
    if (this.fillScheduled || this.closed) return;
    this.fillScheduled = true;
    setImmediate(() => {
      this.fillScheduled = false;
      this.fill();
    }).unref();
  }

  private fill(): void {
    let spares = 0;
    for (const process of this.processes) if (process.binding === undefined) spares += 1;
    for (; !this.closed && spares < this.options.spares; spares += 1) {
      let process: JavascriptProcess;
      try {
        process = this.start();
      } catch (error) {
        // No free uid: the next segment to need a process makes room.
        this.options.logger.debug({ err: error }, 'could not start a spare javascript process');
        return;
      }
      process.detach();
      this.idle.push(process);
    }
  }

  private start(): JavascriptProcess {
    const users = this.options.sandbox;
    const user = users?.acquire();
    const process = new JavascriptProcess({
      memoryLimitMb: this.options.memoryLimitMb,
      sandbox: users === undefined || user === undefined ? undefined : { users, user },
      logger: this.options.logger,
    });
    this.processes.add(process);
    void process.gone.then(() => {
      this.forget(process);
      // One that never started (a uid that cannot read procgate's files, say) would fail again at once.
      if (process.online) this.scheduleFill();
    });
    return process;
  }

  private forget(process: JavascriptProcess): void {
    this.processes.delete(process);
    const index = this.idle.indexOf(process);
    if (index !== -1) this.idle.splice(index, 1);
  }
}
