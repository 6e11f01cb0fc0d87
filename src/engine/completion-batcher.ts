import type { Logger } from '../log/logger.js';
import type { SegmentClaim } from './sql/claim-segments.js';
import { type ClaimedEnd, completeSegments, type SegmentEnd } from './sql/complete-segment.js';
import type { Queryable } from './sql/queryable.js';

export interface CompletionBatcherOptions {
  readonly db: Queryable;
  readonly workerId: string;
  readonly logger: Logger;
  /** The most ends one statement records; default 200. */
  readonly maxBatch?: number;
}

interface Waiting extends ClaimedEnd {
  readonly resolve: (recorded: boolean) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Records the ends of segments with nothing to load in batches: the first
 * end goes at once, and those that arrive while a batch is being recorded
 * go together in the next (engine_complete_batch), so a busy engine spends
 * one transaction on many segments and an idle one waits for nothing.
 * Each end is still fenced by its own claim: the answer says whether it
 * was recorded. A batch that fails is recorded again end by end, so only
 * an end that fails alone is rejected (its committer tries it again).
 */
export class CompletionBatcher {
  private waiting: Waiting[] = [];
  private flushing = false;

  constructor(private readonly options: CompletionBatcherOptions) {}

  /** Records `end` if the claim still holds; true when it did. */
  complete(claim: SegmentClaim, end: SegmentEnd): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ claim, end, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    // Ends of segments that finished in the same turn of the event loop go together.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const max = this.options.maxBatch ?? 200;
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, max);
      try {
        await this.record(batch);
      } catch (error) {
        if (batch.length === 1) {
          batch[0]!.reject(error);
          continue;
        }
        // One end PostgreSQL refuses (a NUL in a program's output, say) must not fail the others: each goes alone.
        for (const entry of batch) await this.record([entry]).catch((alone: unknown) => entry.reject(alone));
      }
    }
    this.flushing = false;
  }

  /** Records `batch` in one statement and settles each of its ends; throws when the statement fails. */
  private async record(batch: readonly Waiting[]): Promise<void> {
    const recorded = await completeSegments(this.options.db, this.options.workerId, batch);
    const keys = new Set(recorded.map(keyOf));
    for (const entry of batch) entry.resolve(keys.has(keyOf(entry.claim)));
    this.options.logger.debug({ segments: batch.length, recorded: recorded.length }, 'recorded segment ends');
  }
}

function keyOf(claim: SegmentClaim): string {
  return `${claim.run_id}/${String(claim.segment)}/${String(claim.attempt)}`;
}
