import type pg from 'pg';
import type { Logger } from '../../log/logger.js';
import type { DatabaseLogin, SegmentDatabase } from '../segment-database.js';
import type { SegmentClaim } from '../sql/claim-segments.js';
import { createSegmentLogin, dropSegmentLogin, staleSegmentLogins } from '../sql/segment-logins.js';
import { type DatabaseEndpoint, databaseLogin } from './database-endpoint.js';
import { LoginDrops } from './login-drops.js';
import { randomPassword, scramVerifier } from './scram-verifier.js';

export interface SegmentLoginsOptions {
  /** The engine's own connections: its role makes and drops the logins. */
  readonly pool: pg.Pool;
  readonly workerId: string;
  /** Where the programs connect. */
  readonly endpoint: DatabaseEndpoint;
  readonly logger: Logger;
  /** A login that could not be dropped is tried again after this long; default a minute. */
  readonly retryMs?: number;
}

/**
 * The segments' logins into the database: a role per attempt of a segment
 * with exactly the rights of the role that executed the run, made when the
 * segment first asks for it and dropped when the segment ends, its
 * sessions ended with it. How PostgreSQL holds such a role to the
 * caller's rights: src/catalog/schema/definitions/engine/segment-logins.sql.
 * The sweep drops the logins of segments that ended without their engine
 * (it was lost) and those that could not be dropped before.
 */
export class SegmentLogins {
  private readonly retryMs: number;
  private readonly drops: LoginDrops;

  constructor(private readonly options: SegmentLoginsOptions) {
    this.retryMs = options.retryMs ?? 60_000;
    this.drops = new LoginDrops(options.pool);
  }

  /** The database of one claimed segment; `close()` it when the segment has ended. */
  forSegment(claim: SegmentClaim, log: Logger): SegmentLogin {
    return new SegmentLogin(this.options, this.drops, claim, log);
  }

  /**
   * Drops the logins of segments that no longer run at their attempt;
   * returns how many went. A login that cannot be dropped is logged and
   * left without LOGIN, to be tried again later.
   */
  async sweep(): Promise<number> {
    const { pool, logger } = this.options;
    let dropped = 0;
    for (const stale of await staleSegmentLogins(pool, this.retryMs)) {
      const failure = await dropSegmentLogin(pool, stale);
      if (failure === null) {
        dropped += 1;
        continue;
      }
      logger.warn(
        { run_id: stale.run_id, segment: stale.segment, attempt: stale.attempt, role: stale.role, failure },
        'could not drop the database login of a segment that ended: it can no longer log in; trying again later',
      );
    }
    if (dropped > 0) logger.info({ logins: dropped }, 'dropped the database logins of segments that ended');
    return dropped;
  }
}

/** One segment's login, made at the first `login()`, dropped by `close()`. */
export class SegmentLogin implements SegmentDatabase {
  private made: Promise<DatabaseLogin> | undefined;
  private closed = false;

  constructor(
    private readonly options: SegmentLoginsOptions,
    private readonly drops: LoginDrops,
    private readonly claim: SegmentClaim,
    private readonly log: Logger,
  ) {}

  login(): Promise<DatabaseLogin> {
    if (this.closed) return Promise.reject(new Error('the segment has ended: its database login is gone'));
    this.made ??= this.make();
    return this.made;
  }

  /**
   * Drops the login, if one was asked for, with its sessions: from here
   * on the credential is refused. Never throws: a login that could not be
   * dropped is logged and left to the sweep.
   */
  async close(): Promise<void> {
    this.closed = true;
    if (this.made === undefined) return;
    // Even a failed make may have made the role (its reply lost): the drop finds it by the claim.
    await this.made.catch(() => undefined);
    try {
      const failure = await this.drops.drop(this.claim);
      if (failure === null) this.log.debug('segment database login dropped');
      else this.log.warn({ failure }, 'could not drop the segment\'s database login: it can no longer log in; the sweep tries again');
    } catch (error) {
      this.log.warn({ err: error }, 'could not drop the segment\'s database login: the sweep will');
    }
  }

  private async make(): Promise<DatabaseLogin> {
    const { pool, workerId, endpoint } = this.options;
    const password = randomPassword();
    let role: string;
    try {
      role = await createSegmentLogin(pool, workerId, this.claim, scramVerifier(password));
    } catch (error) {
      throw new Error(`could not make the segment's database login: ${(error as Error).message}`, { cause: error });
    }
    this.log.debug({ role }, 'segment database login made');
    const { run_id: runId, segment } = this.claim;
    return databaseLogin(endpoint, role, password, `procgate run ${runId} segment ${String(segment)}`);
  }
}
