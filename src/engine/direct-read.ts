import pg from 'pg';
import { SqlState } from '../errors/sqlstate.js';
import type { DirectInput } from './planned-tables.js';
import { RunError } from './run-error.js';
import type { SegmentDatabase } from './segment-database.js';

/**
 * Reading TABLE inputs straight from their sources: through the segment's
 * own login (a session that starts as the run's caller, never the
 * engine's superuser), in a read-only transaction under the snapshot the
 * planning engine exported for the run, so every segment of the run reads
 * the same rows.
 */

/**
 * A session of the segment's login inside a transaction on `snapshot`.
 * A snapshot that is gone (its holder's engine stopped or died, or its
 * session was ended) fails at once with 55000: it cannot be had again,
 * and another snapshot would not be the one the other segments read.
 */
export async function openSnapshot(database: SegmentDatabase, snapshot: string): Promise<pg.Client> {
  const login = await database.login();
  const client = new pg.Client({ connectionString: login.environment['PROCGATE_DATABASE_URL'], keepAlive: true });
  // A session ended under it (the login dropped) fails the read; it must not take the engine down.
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      await client.query(`SET TRANSACTION SNAPSHOT ${client.escapeLiteral(snapshot)}`);
    } catch (error) {
      throw new RunError(
        `the snapshot of the run's TABLE inputs is gone (the engine that planned the run stopped or lost its connection): ${(error as Error).message}`,
        SqlState.objectNotInPrerequisiteState,
        { cause: error },
      );
    }
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
}

/** The query of a segment's share of a direct input. */
export function directShare(input: DirectInput, segment: number, segmentCount: number): string {
  const { read } = input;
  if (read.kind === 'whole') return `SELECT q.* FROM (${read.query}\n) AS q`;
  const range = ctidRange(read.blocks, segment, segmentCount);
  return read.where === null ? `${read.select} WHERE ${range}` : `${read.select} WHERE (${read.where}\n) AND ${range}`;
}

/**
 * Segment `segment` of `segmentCount`'s ctid range of a relation of
 * `blocks` blocks: the shares cover every tuple once. The last runs to the
 * end, whatever the relation grew to after planning.
 */
export function ctidRange(blocks: number, segment: number, segmentCount: number): string {
  const from = Math.floor((blocks * segment) / segmentCount);
  const to = Math.floor((blocks * (segment + 1)) / segmentCount);
  const lower = `ctid >= '(${String(from)},0)'::tid`;
  return segment === segmentCount - 1 ? lower : `${lower} AND ctid < '(${String(to)},0)'::tid`;
}
