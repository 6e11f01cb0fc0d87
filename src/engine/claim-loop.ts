import type pg from 'pg';
import type { Logger } from '../log/logger.js';
import type { InputSnapshots } from './input-snapshots.js';
import { type DescribeOutput, planDataRuns } from './run-planner.js';
import type { StopReason } from './segment-task.js';
import { type ClaimedSegment, claimSegments, type SegmentClaim } from './sql/claim-segments.js';

export interface ClaimLoopOptions {
  readonly pool: pg.Pool;
  /** Segments run at once. */
  readonly slots: number;
  readonly workerId: string;
  readonly leaseMs: number;
  /** The procedure languages this engine runs. */
  readonly languages: readonly string[];
  readonly logger: Logger;
  /** Runs a claimed segment to its recorded end. */
  readonly run: (row: ClaimedSegment, signal: AbortSignal) => Promise<void>;
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
 * Fills the engine's free slots: plans runs with table data, claims
 * queued segments with a lease and starts them. One round at a time;
 * calls arriving meanwhile cause one more round, and so does a full batch
 * (more may be waiting). A segment that ends frees its slot and wakes it.
 */
export class ClaimLoop {
  private readonly running = new Map<string, RunningSegment>();
  private claiming: Promise<void> | undefined;
  private claimAgain = false;
  private stopped = false;

  constructor(private readonly options: ClaimLoopOptions) {}

  /** Whether any segment runs here. */
  get busy(): boolean {
    return this.running.size > 0;
  }

  /** The claims of the segments running here. */
  held(): SegmentClaim[] {
    return [...this.running.values()].map((segment) => segment.claim);
  }

  /** Stops the segment of this claim if it still runs here at this attempt; says whether it did. */
  abort(claim: SegmentClaim, reason: StopReason): boolean {
    const segment = this.running.get(segmentKey(claim.run_id, claim.segment));
    if (segment === undefined || segment.claim.attempt !== claim.attempt || segment.abort.signal.aborted) return false;
    segment.abort.abort(reason);
    return true;
  }

  /** Claims work for free slots; calls arriving meanwhile cause one more round. */
  wake(): void {
    if (this.stopped) return;
    if (this.claiming !== undefined) {
      this.claimAgain = true;
      return;
    }
    this.claiming = this.claimRounds().finally(() => {
      this.claiming = undefined;
    });
  }

  /** Claims no more, stops the running segments with `reason` and waits for them to end. */
  async stop(reason: StopReason): Promise<void> {
    this.stopped = true;
    await this.claiming;
    for (const segment of this.running.values()) segment.abort.abort(reason);
    await Promise.allSettled([...this.running.values()].map((segment) => segment.done));
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
    const free = slots - this.running.size;
    if (free <= 0) return;
    let started = 0;
    const begin = (row: ClaimedSegment): void => {
      this.begin(row);
      started += 1;
    };
    // Runs whose inputs are read under this engine's snapshot have their segments claimed (and begun) here.
    const direct = snapshots === undefined ? undefined : { snapshots, workerId, leaseMs, begin };
    await planDataRuns(pool, slots, free, logger, describeOutput, direct);
    const rows = await claimSegments(pool, workerId, free - started, leaseMs, languages);
    for (const row of rows) this.begin(row);
    // A full batch may mean more is waiting.
    if (rows.length === free - started) this.claimAgain = true;
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
        this.wake();
      });
    const claim = { run_id: row.run_id, segment: row.segment, attempt: row.attempt };
    this.running.set(key, { claim, abort, done });
  }
}

function segmentKey(runId: string, segment: number): string {
  return `${runId}/${String(segment)}`;
}
