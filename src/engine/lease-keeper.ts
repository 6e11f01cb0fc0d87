import type pg from 'pg';
import type { Logger } from '../log/logger.js';
import type { ClaimLoop } from './claim-loop.js';
import type { SegmentLogins } from './segment-logins/segment-logins.js';
import { StopReason } from './segment-task.js';
import { renewLeases } from './sql/renew-leases.js';
import { dropStagedTables, planQueuedRuns, sweepSegments } from './sql/sweep-segments.js';

export interface LeaseKeeperOptions {
  readonly pool: pg.Pool;
  readonly workerId: string;
  /** A claimed segment is this engine's for this long without a heartbeat. */
  readonly leaseMs: number;
  readonly logger: Logger;
  /** The segments running here. */
  readonly claims: ClaimLoop;
  /** The segments' database logins: those of segments that ended without their engine go in the sweep. */
  readonly logins: SegmentLogins;
}

/**
 * The leases of claimed segments: the heartbeat renews this engine's and
 * stops those whose run was killed; the sweep fails segments whose lease
 * expired (their engine was lost), finishes killed runs, plans runs
 * queued unplanned (by an older procgate) and drops the database logins
 * of segments that no longer run. The heartbeat covers the segments
 * queued here as well as the running ones (ClaimLoop.held). Each runs one call at a
 * time.
 */
export class LeaseKeeper {
  private checking: Promise<void> | undefined;
  private sweeping: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: LeaseKeeperOptions) {}

  /** Renews the leases of the segments still running here and stops those whose run was killed. */
  heartbeat(): Promise<void> {
    if (this.checking !== undefined) return this.checking;
    if (this.stopped) return Promise.resolve();
    const { pool, workerId, leaseMs, logger, claims } = this.options;
    this.checking = (async () => {
      try {
        const stopping = await renewLeases(pool, workerId, leaseMs, claims.held());
        for (const claim of stopping) {
          if (!claims.abort(claim, StopReason.killed)) continue;
          logger.info({ run_id: claim.run_id, segment: claim.segment }, 'killing segment');
        }
      } catch (error) {
        logger.error({ err: error }, 'heartbeat failed');
      } finally {
        this.checking = undefined;
      }
    })();
    return this.checking;
  }

  /** Fails segments whose lease expired, finishes killed runs with nothing running, drops logins left behind. */
  sweep(): Promise<void> {
    if (this.sweeping !== undefined) return this.sweeping;
    if (this.stopped) return Promise.resolve();
    const { pool, logger, logins, claims } = this.options;
    this.sweeping = (async () => {
      try {
        const swept = await sweepSegments(pool);
        if (swept > 0) logger.info({ runs: swept }, 'swept runs with lost or cancelled segments');
        // Runs EXECUTE queued before it planned them (an older procgate): planned here, then claimed.
        if ((await planQueuedRuns(pool)) > 0) claims.wake();
        await dropStagedTables(pool);
        await logins.sweep();
      } catch (error) {
        logger.error({ err: error }, 'sweep failed');
      } finally {
        this.sweeping = undefined;
      }
    })();
    return this.sweeping;
  }

  /** Starts no more heartbeats or sweeps; resolves when those under way have ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([this.checking, this.sweeping]);
  }
}
