/** bench:engine's sizes and its one PostgreSQL, shared by the dispatch and data groups. */
import type pg from 'pg';
import type { EmbeddedCluster } from '../../src/postgres/embedded-cluster.js';
import type { Cleanup } from '../support/cleanup.js';
import { connectDirect, procgateDatabaseUrl, startBenchCluster } from '../support/cluster.js';
import { PostgresLog } from '../support/postgres-log.js';
import { positiveInteger } from '../support/settings.js';
import { STATEMENT_STATS_SETUP } from '../support/statement-profile.js';

/** procgate's --slots in both phases. */
export const SLOTS = 4;
/** Clients submitting the dispatch runs. */
export const CONNECTIONS = 8;
/** Of each data run. */
export const SEGMENTS = 4;

export interface Settings {
  readonly rows: number;
  readonly jsRuns: number;
  readonly commandRuns: number;
}

export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  return {
    rows: positiveInteger(env['BENCH_ROWS'], 1_000_000, 'BENCH_ROWS'),
    jsRuns: positiveInteger(env['BENCH_JS_RUNS'], 1000, 'BENCH_JS_RUNS'),
    commandRuns: positiveInteger(env['BENCH_COMMAND_RUNS'], 200, 'BENCH_COMMAND_RUNS'),
  };
}

/** What both phases share: one PostgreSQL, with pg_stat_statements preloaded and its log captured on demand. */
export interface EngineBench {
  readonly cluster: EmbeddedCluster;
  /** For PostgreSQL's CPU time: its backends are the postmaster's children. */
  readonly postmasterPid: number;
  readonly pgLog: PostgresLog;
  /** procgate's --database URL. */
  readonly databaseUrl: string;
  /** Straight to PostgreSQL: watching runs, setup, and the native baseline. */
  readonly direct: pg.Client;
}

export async function startEngineBench(cleanup: Cleanup): Promise<EngineBench> {
  const pgLog = new PostgresLog();
  const { cluster, postmasterPid } = await startBenchCluster(cleanup, {
    prefix: 'pge-',
    logger: pgLog.logger,
    setup: STATEMENT_STATS_SETUP,
  });
  const direct = await connectDirect(cluster, cleanup);
  await direct.query('CREATE EXTENSION pg_stat_statements');
  return { cluster, postmasterPid, pgLog, databaseUrl: procgateDatabaseUrl(cluster), direct };
}
