import pg from 'pg';
import { randomPassword, scramVerifier } from './segment-logins/scram-verifier.js';
import type { SegmentDatabase } from './segment-database.js';
import type { SegmentClaim } from './sql/claim-segments.js';
import { recordOutputCommitter, takeOutputLogin } from './sql/output-commit.js';

/**
 * The engine's own session of a segment's login, where the segment's output
 * rows go into its INTO tables and its completion is recorded, in one
 * transaction (see SegmentCommitter). The login starts as the run's caller
 * and can be no more than the caller (engine/segment-logins.sql): the
 * caller's privileges, triggers, defaults and checks apply, and nothing the
 * caller's SQL does can reach the engine's rights.
 *
 * The program knew a password of that login. Before the session is made,
 * the login gets a fresh password that only the engine knows; once the
 * session is made, its backend is recorded as the one that may complete the
 * segment and the login's other sessions are ended
 * (engine/segment-output.sql). So no credential of the program works from
 * here on, and no session of the program can complete its segment.
 */
export class OutputSession {
  private constructor(
    readonly client: pg.Client,
    /** The session's backend, which the engine may cancel from its own connection. */
    readonly pid: number,
  ) {}

  /**
   * Opens the session, the login made first if the segment never asked
   * for one; undefined when the claim was lost (a zombie writes nothing).
   * `ssl` is the engine's own connection's.
   */
  static async open(
    pool: pg.Pool,
    workerId: string,
    claim: SegmentClaim,
    database: SegmentDatabase,
    ssl: pg.ClientConfig['ssl'],
  ): Promise<OutputSession | undefined> {
    const login = await database.login();
    const password = randomPassword();
    const role = await takeOutputLogin(pool, workerId, claim, await scramVerifier(password));
    if (role === null) return undefined;
    const client = new pg.Client({
      host: login.host,
      port: login.port,
      database: login.database,
      user: role,
      password,
      ssl,
      keepAlive: true,
      application_name: `procgate engine: output of run ${claim.run_id} segment ${String(claim.segment)}`,
    });
    // A connection lost meanwhile fails the statement using it.
    client.on('error', () => undefined);
    await client.connect();
    try {
      const { rows } = await client.query<{ pid: number }>('SELECT pg_catalog.pg_backend_pid() AS pid');
      const pid = rows[0]!.pid;
      if (await recordOutputCommitter(pool, workerId, claim, pid)) return new OutputSession(client, pid);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    await client.end().catch(() => undefined);
    return undefined;
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}

/** The TLS settings of a connection as `pg` resolves them (fields, URL, PG* variables). */
export function sslOf(connection: pg.ClientConfig): pg.ClientConfig['ssl'] {
  // Only reads the settings: a Client connects when asked to.
  return (new pg.Client(connection) as unknown as { ssl: pg.ClientConfig['ssl'] }).ssl;
}
