import type pg from 'pg';
import type { CpuUsage } from './cpu.js';
import { sleep } from './processes.js';
import { formatColumns } from './report.js';

/**
 * ALTER SYSTEM statements for startBenchCluster's `setup`: preload
 * pg_stat_statements, tracking off until a measurement wants it (the
 * setting reloads). The database still needs CREATE EXTENSION.
 */
export const STATEMENT_STATS_SETUP: readonly string[] = [
  `ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'`,
  `ALTER SYSTEM SET pg_stat_statements.track = 'none'`,
];

/** pg_stat_statements on ("all": our functions' inner statements too) from a clean slate, or off again. */
export async function trackStatements(direct: pg.Client, on: boolean): Promise<void> {
  await direct.query(`ALTER SYSTEM SET pg_stat_statements.track = '${on ? 'all' : 'none'}'`);
  await direct.query('SELECT pg_reload_conf()');
  await sleep(200);
  if (on) await direct.query('SELECT pg_stat_statements_reset()');
}

/** Where PostgreSQL's execution time per run went, by statement; nested ones are inside a top-level one's time. */
export async function statementProfile(direct: pg.Client, label: string, runs: number, cpu: CpuUsage): Promise<string> {
  const { rows } = await direct.query<{ toplevel: boolean; calls: string; total: number; query: string }>(
    `SELECT toplevel, calls::text, total_exec_time AS total, query FROM pg_stat_statements
      WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      ORDER BY total_exec_time DESC`,
  );
  const topTotal = rows.filter((row) => row.toplevel).reduce((sum, row) => sum + row.total, 0);
  const topCalls = rows.filter((row) => row.toplevel).reduce((sum, row) => sum + Number(row.calls), 0);
  const table = rows.slice(0, 14).map((row) => [
    row.toplevel ? 'top' : 'nested',
    (Number(row.calls) / runs).toFixed(2),
    (row.total / runs).toFixed(2),
    row.query.replace(/\s+/g, ' ').slice(0, 110),
  ]);
  return [
    `PostgreSQL time per run by statement, ${label} (pg_stat_statements): ${(topCalls / runs).toFixed(1)} top-level statements`,
    `per run (the bench's polling included), executing ${(topTotal / runs).toFixed(2)} ms/run (wall, waits included); PostgreSQL CPU`,
    `${((cpu.postgres * 1000) / runs).toFixed(2)} ms/run in all (parse, plan, protocol, commit, background included)`,
    formatColumns([['level', 'calls/run', 'ms/run', 'statement'], ...table]),
  ].join('\n');
}
