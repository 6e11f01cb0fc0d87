/**
 * `npm run bench:wire`: pgbench select-only throughput straight to
 * PostgreSQL, through procgate and through pgbouncer (session mode), with the
 * three targets interleaved so machine drift hits them alike. A report, not a
 * test: it exits 0 whether or not procgate meets its bars, non-zero only when
 * something failed to run.
 *
 * Env: BENCH_SECONDS (per run, default 8), BENCH_ROUNDS (default 3).
 */
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '../src/log/logger.js';
import type { Cleanup } from './support/cleanup.js';
import { DATABASE, procgateDatabaseUrl, socketBackend, startBenchCluster } from './support/cluster.js';
import {
  type Credentials,
  initialisePgbench,
  PgbenchError,
  QUERY_MODES,
  type RunSpec,
  runSelectOnly,
  type Target,
} from './support/pgbench.js';
import { ensurePgbouncer, startPgbouncer } from './support/pgbouncer.js';
import { startProcgate } from './support/procgate.js';
import { formatBars, loadAverages, printReport } from './support/report.js';
import { runBench } from './support/run-bench.js';
import { positiveInteger, progress } from './support/settings.js';
import { type Cell, checkBars, formatTable, Results, summarise } from './wire/report.js';

const SCALE = 10;
const WARMUP_SECONDS = 3;

/** One client on one thread, and eight clients on both cores' worth of pgbench threads. */
const CELLS: readonly Cell[] = QUERY_MODES.flatMap((mode) => [
  { mode, clients: 1, threads: 1 },
  { mode, clients: 8, threads: 2 },
]);

interface Settings {
  readonly seconds: number;
  readonly rounds: number;
}

/** What every pgbench run needs: who to log in as, where failures go, and whether we are stopping. */
interface RunContext {
  readonly credentials: Credentials;
  readonly failures: Failure[];
  readonly cleanup: Cleanup;
}

/** A pgbench run that failed, kept whole for the report. */
interface Failure {
  readonly label: string;
  readonly error: PgbenchError;
}

function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  return {
    seconds: positiveInteger(env['BENCH_SECONDS'], 8, 'BENCH_SECONDS'),
    rounds: positiveInteger(env['BENCH_ROUNDS'], 3, 'BENCH_ROUNDS'),
  };
}

/** Starts PostgreSQL, fills the pgbench tables once, then puts procgate and pgbouncer in front. */
async function startTargets(cleanup: Cleanup): Promise<{ targets: Target[]; credentials: Credentials }> {
  // Installing first: apt can take a while and needs nothing else running.
  const pgbouncerBinary = await ensurePgbouncer();
  const { cluster, dir } = await startBenchCluster(cleanup, { prefix: 'pgw-', logger: silentLogger() });
  const credentials: Credentials = { user: cluster.user, password: cluster.password, database: DATABASE };
  const direct: Target = { name: 'direct', host: cluster.host, port: cluster.port };

  progress(`initialising pgbench at scale ${SCALE}`);
  await initialisePgbench(direct, credentials, SCALE);

  const backend = socketBackend(cluster);
  progress(`starting procgate and pgbouncer (backend ${backend.host}:${backend.port})`);
  const procgate = await startProcgate(procgateDatabaseUrl(cluster));
  cleanup.add('stop procgate', () => procgate.stop());
  const pgbouncer = await startPgbouncer(pgbouncerBinary, path.join(dir, 'pgbouncer'), backend, credentials);
  cleanup.add('stop pgbouncer', () => pgbouncer.stop());

  const targets: Target[] = [
    direct,
    { name: 'procgate', host: '127.0.0.1', port: procgate.port },
    { name: 'pgbouncer', host: '127.0.0.1', port: pgbouncer.port },
  ];
  return { targets, credentials };
}

/** Rotates the target order by `by`, so each target takes each slot equally often. */
function rotate<T>(items: readonly T[], by: number): T[] {
  const shift = by % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

/** Runs pgbench once; a pgbench failure is recorded and the bench goes on, anything else stops it. */
async function measure(
  run: RunContext,
  target: Target,
  spec: RunSpec,
  label: string,
): Promise<number | undefined> {
  const { credentials, failures, cleanup } = run;
  try {
    const tps = await runSelectOnly(target, credentials, spec);
    progress(`${label}  ${target.name.padEnd(9)}  ${tps.toFixed(0).padStart(7)} tps`);
    return tps;
  } catch (error) {
    if (!(error instanceof PgbenchError)) throw error;
    // A run cut short by Ctrl-C tearing the servers down is no finding about procgate.
    if (cleanup.started) throw new Error('interrupted');
    progress(`${label}  ${target.name.padEnd(9)}  FAILED: ${error.message}`);
    failures.push({ label: `${label} ${target.name}`, error });
    return undefined;
  }
}

/** Warms caches, JIT and connection paths of every target before anything is measured. */
async function warmUp(run: RunContext, targets: readonly Target[]): Promise<void> {
  const spec: RunSpec = { mode: 'simple', clients: 8, threads: 2, seconds: WARMUP_SECONDS };
  for (const target of targets) await measure(run, target, spec, 'warm-up          ');
}

async function runMatrix(run: RunContext, targets: readonly Target[], settings: Settings): Promise<Results> {
  const results = new Results();
  for (let round = 0; round < settings.rounds; round += 1) {
    for (const cell of CELLS) {
      const spec: RunSpec = { ...cell, seconds: settings.seconds };
      const label = `[round ${round + 1}/${settings.rounds}] ${cell.mode.padEnd(8)} c=${cell.clients}`;
      for (const target of rotate(targets, round)) {
        if (run.cleanup.started) throw new Error('interrupted');
        const tps = await measure(run, target, spec, label);
        if (tps !== undefined) results.add(cell, target.name, tps);
      }
    }
  }
  return results;
}

/** Everything shares the machine's cores: a load well above the bench's own means other work skewed it. */
function loadSummary(): string {
  return `load average at the end (1/5/15 min): ${loadAverages()} on ${os.availableParallelism()} cores`;
}

function report(results: Results, settings: Settings, failures: readonly Failure[]): void {
  const rows = summarise(results, CELLS);
  const lines = [
    '',
    `pgbench -S, scale ${SCALE}, ${settings.seconds} s per run, median of ${settings.rounds} round(s)`,
    loadSummary(),
    '',
    formatTable(rows),
    '',
    formatBars(checkBars(rows)),
  ];
  for (const failure of failures) {
    lines.push('', `FAILED ${failure.label}: ${failure.error.message}`, failure.error.output.trimEnd());
  }
  printReport(lines);
}

runBench('bench:wire', async (cleanup) => {
  const settings = readSettings();
  const { targets, credentials } = await startTargets(cleanup);
  const run: RunContext = { credentials, failures: [], cleanup };
  await warmUp(run, targets);
  const results = await runMatrix(run, targets, settings);
  report(results, settings, run.failures);
  return run.failures.length === 0 ? 0 : 1;
});
