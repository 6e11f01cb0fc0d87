import pg from 'pg';
import type { Logger } from '../log/logger.js';
import { runsReadingInputs } from './sql/runs-reading-inputs.js';

export interface InputSnapshotsOptions {
  /** The engine's connection settings: each holder is a session of the engine's role. */
  readonly config: pg.ClientConfig;
  /** The engine's pool, to see which runs still read. */
  readonly pool: pg.Pool;
  readonly logger: Logger;
  /** How many snapshots this engine holds at once; runs planned beyond are staged. Default 8. */
  readonly max?: number;
  /** How often held snapshots are checked for runs that no longer read. */
  readonly checkMs: number;
}

/** A snapshot exported for a run being planned. */
export interface HeldSnapshot {
  /** What SET TRANSACTION SNAPSHOT takes. */
  readonly id: string;
  /** The run was planned with it: hold it while the run reads. */
  keep(runId: string): void;
  /** The run was not planned with it (planning failed, or it took none of it). */
  release(): void;
}

/** Default of InputSnapshotsOptions.max. */
const DEFAULT_MAX = 8;

/**
 * The snapshots of the runs this engine planned with direct reads. Each is
 * a session of its own holding `REPEATABLE READ READ ONLY` open after
 * `pg_export_snapshot()`: a segment on any engine imports it with SET
 * TRANSACTION SNAPSHOT while the holder's transaction lasts (the run's
 * segments are all this engine's: see engine_claim_planned). It lasts
 * until no segment of its run is left to read (see runsReadingInputs) and
 * at most until the engine stops; a holder whose session ends fails the
 * segments that had yet to read (see direct-read.ts).
 * An open snapshot holds back VACUUM's horizon, so an engine holds at most
 * `max` of them and their sessions never time out idle.
 */
export class InputSnapshots {
  private readonly holders: pg.Pool;
  private readonly held = new Map<string, pg.PoolClient>();
  /** Holders whose lost session is logged (a pooled session is handed out again). */
  private readonly watched = new WeakSet<pg.PoolClient>();
  private readonly max: number;
  private opening = 0;
  private checking = false;
  private closed = false;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly options: InputSnapshotsOptions) {
    this.max = options.max ?? DEFAULT_MAX;
    this.holders = new pg.Pool({
      ...options.config,
      application_name: 'procgate input snapshot',
      max: this.max,
      keepAlive: true,
      options: '-c idle_in_transaction_session_timeout=0',
    });
    this.holders.on('error', (error) => options.logger.warn({ err: error }, 'input snapshot connection lost'));
    this.timer = setInterval(() => void this.check(), options.checkMs);
    this.timer.unref();
  }

  /** How many snapshots are held now. */
  get size(): number {
    return this.held.size;
  }

  /** A new snapshot, or undefined when this engine holds as many as it may (the run is then staged). */
  async export(): Promise<HeldSnapshot | undefined> {
    if (this.closed || this.held.size + this.opening >= this.max) return undefined;
    this.opening += 1;
    let client: pg.PoolClient | undefined;
    try {
      client = await this.holders.connect();
      if (!this.watched.has(client)) {
        this.watched.add(client);
        client.on('error', (error) => this.options.logger.warn({ err: error }, 'input snapshot holder lost'));
      }
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const { rows } = await client.query<{ id: string }>('SELECT pg_catalog.pg_export_snapshot() AS id');
      const id = rows[0]?.id;
      if (id === undefined) throw new Error('pg_export_snapshot returned nothing');
      const holder = client;
      let settled = false;
      return {
        id,
        keep: (runId) => {
          if (settled) return;
          settled = true;
          if (this.closed) end(holder);
          else this.held.set(runId, holder);
        },
        release: () => {
          if (settled) return;
          settled = true;
          end(holder);
        },
      };
    } catch (error) {
      client?.release(true);
      throw error;
    } finally {
      this.opening -= 1;
    }
  }

  /** Ends the snapshots of runs that no longer read their inputs. */
  async check(): Promise<void> {
    if (this.checking || this.closed || this.held.size === 0) return;
    this.checking = true;
    try {
      const reading = await runsReadingInputs(this.options.pool, [...this.held.keys()]);
      for (const [runId, holder] of this.held) {
        if (reading.has(runId)) continue;
        this.held.delete(runId);
        end(holder);
        this.options.logger.debug({ run_id: runId }, 'input snapshot released');
      }
    } catch (error) {
      this.options.logger.warn({ err: error }, 'could not check which runs still read their inputs');
    } finally {
      this.checking = false;
    }
  }

  /** Ends every snapshot (the engine stops): segments yet to read fail. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    for (const holder of this.held.values()) end(holder);
    this.held.clear();
    await this.holders.end().catch(() => undefined);
  }
}

/** Ends a holder's transaction, and with it the snapshot; a holder whose session is gone is dropped. */
function end(holder: pg.PoolClient): void {
  holder.query('COMMIT').then(
    () => holder.release(),
    (error: unknown) => holder.release(error instanceof Error ? error : true),
  );
}
