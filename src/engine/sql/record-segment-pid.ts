import type { SegmentClaim } from './claim-segments.js';
import type { Queryable } from './queryable.js';

/**
 * How long a program's pid waits before it is written. It only tells
 * people what runs (procgate.run_segments.pid); most short programs have
 * ended by then, and theirs is never written.
 */
const PID_DELAY_MS = 100;

/** Pids waiting to be written, by the connection pool that writes them. */
const batches = new WeakMap<Queryable, PidBatch>();

/**
 * Records the process id of a segment's program, fenced like a completion
 * (a segment no longer running here at its attempt is left as it is):
 * after PID_DELAY_MS, with the others that came meanwhile, in one
 * statement (engine_set_pids), unless forgetSegmentPid came first.
 * Settles when it was written or forgotten.
 */
export function recordSegmentPid(db: Queryable, worker: string, claim: SegmentClaim, pid: number): Promise<void> {
  let batch = batches.get(db);
  if (batch === undefined) {
    batch = new PidBatch(db);
    batches.set(db, batch);
  }
  return batch.add({ worker, claim, pid });
}

/** The segment's program has ended: its pid, if not written yet, never is. */
export function forgetSegmentPid(db: Queryable, claim: SegmentClaim): void {
  batches.get(db)?.forget(claim);
}

interface SegmentPid {
  readonly worker: string;
  readonly claim: SegmentClaim;
  readonly pid: number;
}

interface PendingPid extends SegmentPid {
  readonly settle: (error?: unknown) => void;
}

class PidBatch {
  private pending = new Map<string, PendingPid>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly db: Queryable) {}

  add(pid: SegmentPid): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.forget(pid.claim);
      const settle = (error?: unknown): void => (error === undefined ? resolve() : reject(error));
      this.pending.set(key(pid.claim), { ...pid, settle });
      if (this.timer === undefined) {
        this.timer = setTimeout(() => void this.flush(), PID_DELAY_MS);
        this.timer.unref();
      }
    });
  }

  forget(claim: SegmentClaim): void {
    const pending = this.pending.get(key(claim));
    if (pending === undefined) return;
    this.pending.delete(key(claim));
    pending.settle();
  }

  private async flush(): Promise<void> {
    this.timer = undefined;
    const byWorker = new Map<string, PendingPid[]>();
    for (const pending of this.pending.values()) {
      byWorker.set(pending.worker, [...(byWorker.get(pending.worker) ?? []), pending]);
    }
    this.pending = new Map();
    for (const [worker, pids] of byWorker) {
      let failure: unknown;
      try {
        await this.db.query('SELECT procgate_internal.engine_set_pids($1, $2, $3, $4, $5)', [
          worker,
          pids.map((p) => p.claim.run_id),
          pids.map((p) => p.claim.segment),
          pids.map((p) => p.claim.attempt),
          pids.map((p) => p.pid),
        ]);
      } catch (error) {
        failure = error ?? new Error('engine_set_pids failed');
      }
      for (const p of pids) p.settle(failure);
    }
  }
}

function key(claim: SegmentClaim): string {
  return `${claim.run_id}/${String(claim.segment)}/${String(claim.attempt)}`;
}
