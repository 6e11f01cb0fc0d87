import type pg from 'pg';
import type { SegmentClaim } from '../sql/claim-segments.js';
import { dropSegmentLogins } from '../sql/segment-logins.js';

/** At most this many logins go in one call. */
const BATCH = 64;

interface WaitingDrop {
  readonly claim: SegmentClaim;
  readonly resolve: (failure: string | null) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Drops segments' logins as their segments end, several in one call
 * (engine_segment_logins_drop): one call at a time, and the logins that
 * end while it runs go together in the next, as a group commit does. A
 * lone segment waits for nothing; many pay two commits and one look at
 * the sessions for all.
 */
export class LoginDrops {
  private waiting: WaitingDrop[] = [];
  private busy = false;

  constructor(private readonly pool: pg.Pool) {}

  /** Why the login could not be dropped (it is left without LOGIN, for the sweep), or null. */
  drop(claim: SegmentClaim): Promise<string | null> {
    return new Promise<string | null>((resolve, reject) => {
      this.waiting.push({ claim, resolve, reject });
      if (!this.busy) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.busy = true;
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, BATCH);
      try {
        const failures = await dropSegmentLogins(this.pool, batch.map((drop) => drop.claim));
        batch.forEach((drop, i) => drop.resolve(failures[i] ?? null));
      } catch (error) {
        for (const drop of batch) drop.reject(error);
      }
    }
    this.busy = false;
  }
}
