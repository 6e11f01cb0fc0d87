import type pg from 'pg';
import type { Logger } from '../log/logger.js';
import type { InputSnapshots } from './input-snapshots.js';
import { type DescribeOutput, planDataRuns } from './run-planner.js';
import type { StopReason } from './segment-task.js';
import { type ClaimedSegment, claimSegments, releaseSegments, type SegmentClaim } from './sql/claim-segments.js';

export interface ClaimLoopOptions {
  readonly pool: pg.Pool;
  /** Segments run at once. */
  readonly slots: number;
  /** Claimed segments waiting here for a slot, at most; default: four times the slots. */
  readonly queued?: number;
  readonly workerId: string;
  readonly leaseMs: number;
  /** The procedure languages this engine runs. */
  readonly languages: readonly string[];
  readonly logger: Logger;
  /** Runs a claimed segment to its recorded end. */
  readonly run: (row: ClaimedSegment, signal: AbortSignal) => Promise<void>;
  /** Records the end of a claimed segment killed before it started (it never runs). */
  readonly killQueued: (row: ClaimedSegment) => Promise<void>;
  /** The columns of a missing INTO table a built-in type can tell, for planning. */
  readonly describeOutput?: DescribeOutput;
  /** The snapshots of runs planned here whose segments read their inputs directly. */
  readonly snapshots?: InputSnapshots;
}

/** A segment this engine is running. */
interface RunningSegment {
  readonly claim: SegmentClaim;
  readonly abort: AbortController;
  readonly done: Promise<void>;
}

/**
 * Fills the engine's slots from a local queue of claimed segments: one
 * statement claims a batch (engine_claim) when the queue runs low: for the
 * free slots, and segments of one-segment runs to queue ahead (those of a
 * distributed run are left to engines with free slots). A
 * segment that ends starts the next queued one at once, without asking
 * PostgreSQL. Queued segments are claimed like running ones: the
 * heartbeat renews their leases, and one whose run is killed ends as
 * killed without running (killQueued). A stopping engine hands its queued
 * segments back (engine_release); if it cannot, their leases run out and
 * the sweep requeues or fails them as for a lost worker.
 *
 * One claim round at a time; calls arriving meanwhile cause one more
 * round, and so does a full batch (more may be waiting).
 */
export class ClaimLoop {
  private readonly running = new Map<string, RunningSegment>();
  private queue: ClaimedSegment[] = [];
  private readonly ending = new Set<Promise<void>>();
  private claiming: Promise<void> | undefined;
  private claimAgain = false;
  private stopped = false;
  private readonly maxQueued: number;

  constructor(private readonly options: ClaimLoopOptions) {
    this.maxQueued = options.queued ?? options.slots * 4;
  }

  /** Whether any segment is held here, running or queued. */
  get busy(): boolean {
    return this.running.size > 0 || this.queue.length > 0;
  }

  /** The claims of the segments held here: running, and queued for a slot. */
  held(): SegmentClaim[] {
    return [...[...this.running.values()].map((segment) => segment.claim), ...this.queue.map(claimOf)];
  }

  /**
   * Stops the segment of this claim if it is still held here at this
   * attempt; says whether it did. A queued one leaves the queue and is
   * recorded as killed (a segment only ever queued cannot have run).
   */
  abort(claim: SegmentClaim, reason: StopReason): boolean {
    const at = this.queue.findIndex((row) => sameClaim(row, claim));
    if (at >= 0) {
      const [row] = this.queue.splice(at, 1);
      this.endQueued(row!);
      return true;
    }
    const segment = this.running.get(segmentKey(claim.run_id, claim.segment));
    if (segment === undefined || segment.claim.attempt !== claim.attempt || segment.abort.signal.aborted) return false;
    segment.abort.abort(reason);
    return true;
  }

  /** Claims work when the queue runs low; calls arriving meanwhile cause one more round. */
  wake(): void {
    if (this.stopped) return;
    if (this.claiming !== undefined) {
      this.claimAgain = true;
      return;
    }
    if (this.wanted().total <= 0) return;
    this.claiming = this.claimRounds().finally(() => {
      this.claiming = undefined;
    });
  }

  /**
   * Claims no more, hands the queued segments back, stops the running ones
   * with `reason` and waits for them to end.
   */
  async stop(reason: StopReason): Promise<void> {
    this.stopped = true;
    await this.claiming;
    const queued = this.queue;
    this.queue = [];
    try {
      await releaseSegments(this.options.pool, this.options.workerId, queued.map(claimOf));
    } catch (error) {
      this.options.logger.warn(
        { err: error, segments: queued.length },
        'could not hand back queued segments: they are swept when their leases run out',
      );
    }
    for (const segment of this.running.values()) segment.abort.abort(reason);
    await Promise.allSettled([...[...this.running.values()].map((segment) => segment.done), ...this.ending]);
  }

  /**
   * How many segments a claim may ask for now: for the free slots, and
   * (of one-segment runs) to queue ahead; none while the queue holds a
   * slot's worth.
   */
  private wanted(): { free: number; ahead: number; total: number } {
    const { slots } = this.options;
    if (this.queue.length >= slots) return { free: 0, ahead: 0, total: 0 };
    const free = Math.max(0, slots - this.running.size - this.queue.length);
    const ahead = Math.max(0, slots + this.maxQueued - this.running.size - this.queue.length - free);
    return { free, ahead, total: free + ahead };
  }

  private async claimRounds(): Promise<void> {
    do {
      this.claimAgain = false;
      try {
        await this.claimOnce();
      } catch (error) {
        this.options.logger.error({ err: error }, 'could not claim segments');
        return;
      }
    } while (this.claimAgain && !this.stopped);
  }

  private async claimOnce(): Promise<void> {
    const { pool, slots, workerId, leaseMs, languages, logger, describeOutput, snapshots } = this.options;
    const wanted = this.wanted();
    if (wanted.total <= 0) return;
    let started = 0;
    const begin = (row: ClaimedSegment): void => {
      this.begin(row);
      started += 1;
    };
    // Runs whose inputs are read under this engine's snapshot have their segments claimed (and begun) here.
    const direct = snapshots === undefined ? undefined : { snapshots, workerId, leaseMs, begin };
    // A round that planned runs may have left others to plan (see planDataRuns): one more round.
    const planned = wanted.free > 0 ? await planDataRuns(pool, slots, wanted.free, logger, describeOutput, direct) : 0;
    const free = Math.max(0, wanted.free - started);
    const rows = await claimSegments(pool, workerId, free, leaseMs, languages, wanted.ahead);
    if (this.stopped) {
      // Claimed while stopping: handed back with the rest of the queue.
      this.queue.push(...rows);
      return;
    }
    this.queue.push(...rows);
    this.startQueued();
    // A full batch may mean more is waiting.
    if (rows.length === free + wanted.ahead || planned > 0) this.claimAgain = true;
  }

  /** Starts queued segments while slots are free. */
  private startQueued(): void {
    while (!this.stopped && this.running.size < this.options.slots && this.queue.length > 0) {
      this.begin(this.queue.shift()!);
    }
  }

  private begin(row: ClaimedSegment): void {
    const abort = new AbortController();
    const key = segmentKey(row.run_id, row.segment);
    const done = this.options
      .run(row, abort.signal)
      .catch((error: unknown) => {
        this.options.logger.error(
          { err: error, run_id: row.run_id, segment: row.segment },
          'segment could not be finished',
        );
      })
      .finally(() => {
        this.running.delete(key);
        this.startQueued();
        this.wake();
      });
    this.running.set(key, { claim: claimOf(row), abort, done });
  }

  private endQueued(row: ClaimedSegment): void {
    const ended = this.options
      .killQueued(row)
      .catch((error: unknown) => {
        this.options.logger.error(
          { err: error, run_id: row.run_id, segment: row.segment },
          'segment could not be finished',
        );
      })
      .finally(() => {
        this.ending.delete(ended);
        this.wake();
      });
    this.ending.add(ended);
  }
}

function claimOf(row: ClaimedSegment): SegmentClaim {
  return { run_id: row.run_id, segment: row.segment, attempt: row.attempt };
}

function sameClaim(row: SegmentClaim, claim: SegmentClaim): boolean {
  return row.run_id === claim.run_id && row.segment === claim.segment && row.attempt === claim.attempt;
}

function segmentKey(runId: string, segment: number): string {
  return `${runId}/${String(segment)}`;
}
