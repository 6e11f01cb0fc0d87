/**
 * `npm run bench:engine`: the engine's dispatch cost and data path.
 *
 * 1. Dispatch: no-op javascript runs (`export default () => {}`) submitted
 *    as fast as 8 connections through procgate can, then the same for a
 *    no-op command (`true`, NONDISTRIBUTED): runs/s from the first EXECUTE
 *    sent to the last run's finished_at, and EXECUTE -> succeeded latency.
 *    Also a paced submission well under capacity, so latency without a
 *    backlog is visible next to latency with one. CPU per run of procgate
 *    and of PostgreSQL (from /proc), and PostgreSQL's time by statement
 *    (pg_stat_statements, preloaded, tracking only during the flat-out runs).
 * 2. Data: an identity over BENCH_ROWS rows x 5 columns in 4 segments, as
 *    a command procedure (python3 shutil.copyfile of the input file to the
 *    output file: the cheapest faithful identity under the control-file
 *    contract) and as a javascript pass-through, against PostgreSQL's own
 *    `INSERT INTO out SELECT * FROM in` in the same run; with the peak RSS
 *    of procgate's node process and a profile of where each run's time
 *    went (PostgreSQL's statement durations, procgate's debug log, the
 *    program's own timestamps).
 *
 * procgate runs as its own process (`serve --slots 4 --database`) in front
 * of an embedded PostgreSQL the bench starts, as bench:wire does; dispatch
 * and data each get a fresh procgate, so the data phase's peak RSS is its
 * own. A report, not a test: it exits 0 whether or not the bars are met,
 * non-zero only when something failed to run.
 *
 * Env: BENCH_ROWS (default 1000000), BENCH_JS_RUNS (1000), BENCH_COMMAND_RUNS (200);
 * BENCH_CPU_PROF=<dir> has each procgate write a V8 CPU profile there when it stops.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { type EmbeddedCluster, startEmbeddedCluster } from '../src/postgres/embedded-cluster.js';
import { Cleanup } from './support/cleanup.js';
import { nowMs, positiveInteger, progress } from './support/settings.js';
import { CpuMeter, type CpuUsage } from './support/cpu.js';
import { type DataRunTrace, type EngineLogLine, formatProfile, type SegmentTimes } from './support/engine-profile.js';
import { LOG_SETTINGS, PostgresLog } from './support/postgres-log.js';
import { startProcgate } from './support/procgate.js';
import { sleep } from './support/processes.js';
import { formatColumns } from './support/report.js';

const DATABASE = 'bench';
const SLOTS = 4;
const CONNECTIONS = 8;
const SEGMENTS = 4;

interface Settings {
  readonly rows: number;
  readonly jsRuns: number;
  readonly commandRuns: number;
}

function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  return {
    rows: positiveInteger(env['BENCH_ROWS'], 1_000_000, 'BENCH_ROWS'),
    jsRuns: positiveInteger(env['BENCH_JS_RUNS'], 1000, 'BENCH_JS_RUNS'),
    commandRuns: positiveInteger(env['BENCH_COMMAND_RUNS'], 200, 'BENCH_COMMAND_RUNS'),
  };
}

/** Nearest-rank percentile. */
function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

// ---------------------------------------------------------------- setup

interface Bench {
  readonly cluster: EmbeddedCluster;
  /** For PostgreSQL's CPU time: its backends are the postmaster's children. */
  readonly postmasterPid: number;
  readonly pgLog: PostgresLog;
  /** procgate's --database URL. */
  readonly databaseUrl: string;
  /** Straight to PostgreSQL: watching runs, setup, and the native baseline. */
  readonly direct: pg.Client;
  readonly cleanup: Cleanup;
}

async function startBench(cleanup: Cleanup): Promise<Bench> {
  // Short, so the cluster's Unix socket path fits sun_path.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pge-'));
  cleanup.add('remove temp dir', () => rm(dir, { recursive: true, force: true }));
  // mkdtemp makes it 0700; PostgreSQL runs as `postgres` when we are root and must get through.
  await chmod(dir, 0o755);
  progress('starting PostgreSQL');
  const pgLog = new PostgresLog();
  // Once to initialise it and preload pg_stat_statements, again for that to take effect.
  const first = await startEmbeddedCluster({ dataDir: dir, logger: pgLog.logger });
  try {
    await adminQuery(first, [
      `CREATE DATABASE ${DATABASE}`,
      `ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'`,
      // Off until a measurement wants it (reloadable); "all" counts the statements inside our functions too.
      `ALTER SYSTEM SET pg_stat_statements.track = 'none'`,
    ]);
  } finally {
    await first.stop();
  }
  const cluster = await startEmbeddedCluster({ dataDir: dir, logger: pgLog.logger });
  cleanup.add('stop PostgreSQL', () => cluster.stop());
  const direct = new pg.Client({ connectionString: cluster.url(DATABASE), application_name: 'bench direct' });
  await direct.connect();
  cleanup.add('close the direct connection', () => direct.end());
  // As sessions through procgate see it: the superuser is named procgate, so "$user" would be the procgate schema.
  await direct.query('SET search_path = public');
  await direct.query('CREATE EXTENSION pg_stat_statements');
  const postmasterPid = Number(readFileSync(path.join(dir, 'pgdata', 'postmaster.pid'), 'utf8').split('\n')[0]);
  return { cluster, postmasterPid, pgLog, databaseUrl: procgateDatabaseUrl(cluster), direct, cleanup };
}

async function adminQuery(cluster: EmbeddedCluster, statements: readonly string[]): Promise<void> {
  const admin = new pg.Client({ connectionString: cluster.url('postgres') });
  await admin.connect();
  try {
    for (const statement of statements) await admin.query(statement);
  } finally {
    await admin.end();
  }
}

/** Over the cluster's Unix socket, as procgate reaches it in production (pg reads a socket directory from `?host=`). */
function procgateDatabaseUrl(cluster: EmbeddedCluster): string {
  const { backend } = cluster;
  if (backend.kind !== 'unix') return cluster.url(DATABASE);
  const auth = `${encodeURIComponent(cluster.user)}:${encodeURIComponent(cluster.password)}`;
  const host = encodeURIComponent(path.dirname(backend.path));
  return `postgres://${auth}@/${DATABASE}?host=${host}&port=${String(cluster.port)}`;
}

/** node's flags for a CPU profile of procgate, when BENCH_CPU_PROF names a directory. */
function cpuProfile(): string[] {
  const dir = process.env['BENCH_CPU_PROF'];
  return dir === undefined || dir === '' ? [] : ['--cpu-prof', '--cpu-prof-dir', path.resolve(dir)];
}

/** Clients of procgate's port, as users reach it. */
async function connectThroughProcgate(bench: Bench, port: number, count: number): Promise<pg.Client[]> {
  const clients = await Promise.all(
    Array.from({ length: count }, async () => {
      const client = new pg.Client({
        host: '127.0.0.1',
        port,
        user: bench.cluster.user,
        password: bench.cluster.password,
        database: DATABASE,
        application_name: 'bench client',
      });
      await client.connect();
      return client;
    }),
  );
  return clients;
}

async function closeAll(clients: readonly pg.Client[]): Promise<void> {
  await Promise.allSettled(clients.map((client) => client.end()));
}

// ---------------------------------------------------------------- runs

const TERMINAL = ['succeeded', 'failed', 'killed'];

/** Waits until every run tagged `tag` has ended; polls PostgreSQL directly, every `pollMs`. */
async function waitForTag(bench: Bench, tag: string, expected: number, timeoutMs: number, pollMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastReport = Date.now();
  for (;;) {
    const { rows } = await bench.direct.query<{ done: number }>(
      `SELECT count(*) FILTER (WHERE state = ANY ($2))::int AS done FROM procgate.runs WHERE run_tag = $1`,
      [tag, TERMINAL],
    );
    const done = rows[0]?.done ?? 0;
    if (done >= expected) return;
    if (Date.now() > deadline) throw new Error(`runs tagged ${tag}: ${done} of ${expected} ended after ${timeoutMs} ms`);
    if (Date.now() - lastReport > 5000) {
      progress(`  ${tag}: ${done}/${expected} ended`);
      lastReport = Date.now();
    }
    await sleep(pollMs);
  }
}

interface RunTimes {
  readonly run_id: string;
  readonly state: string;
  readonly error: string | null;
  readonly created_ms: number;
  readonly started_ms: number | null;
  readonly finished_ms: number | null;
}

async function runTimes(bench: Bench, tag: string): Promise<Map<string, RunTimes>> {
  const { rows } = await bench.direct.query<Record<keyof RunTimes, string | null>>(
    `SELECT run_id::text, state, error,
            (extract(epoch FROM created_at) * 1000)::float8 AS created_ms,
            (extract(epoch FROM started_at) * 1000)::float8 AS started_ms,
            (extract(epoch FROM finished_at) * 1000)::float8 AS finished_ms
       FROM procgate.runs WHERE run_tag = $1`,
    [tag],
  );
  return new Map(
    rows.map((row) => [
      row.run_id!,
      {
        run_id: row.run_id!,
        state: row.state!,
        error: row.error,
        created_ms: Number(row.created_ms),
        started_ms: row.started_ms === null ? null : Number(row.started_ms),
        finished_ms: row.finished_ms === null ? null : Number(row.finished_ms),
      },
    ]),
  );
}

// ---------------------------------------------------------------- dispatch

interface Submitted {
  readonly runId: string;
  readonly sentMs: number;
  readonly replyMs: number;
}

interface DispatchResult {
  readonly label: string;
  readonly runs: number;
  readonly failed: number;
  readonly firstError: string | null;
  readonly runsPerSecond: number;
  readonly submitPerSecond: number;
  /** Client's EXECUTE sent -> the run's finished_at. */
  readonly p50: number;
  readonly p99: number;
  /** created_at -> finished_at, server clock only. */
  readonly serverP50: number;
  readonly serverP99: number;
  /** created_at -> started_at: waiting for a slot. */
  readonly queueP50: number;
  /** started_at -> finished_at: claim to completion. */
  readonly runP50: number;
  /** EXECUTE's round trip. */
  readonly executeP50: number;
  /** From the first EXECUTE to the last run seen ended. */
  readonly cpu: CpuUsage;
  /** PostgreSQL's time by statement, when asked for. */
  readonly statements?: string;
}

async function submit(client: pg.Client, statement: string): Promise<Submitted> {
  const sentMs = nowMs();
  const { rows } = await client.query<{ run_id: string }>(statement);
  const replyMs = nowMs();
  const runId = rows[0]?.run_id;
  if (runId === undefined) throw new Error(`no run_id from ${statement}`);
  return { runId, sentMs, replyMs };
}

/** `count` runs, as fast as the connections go: each submits its share one EXECUTE after the other. */
async function submitFlat(clients: readonly pg.Client[], statement: string, count: number): Promise<Submitted[]> {
  const submitted: Submitted[] = [];
  let next = 0;
  await Promise.all(
    clients.map(async (client) => {
      while (next < count) {
        next += 1;
        submitted.push(await submit(client, statement));
      }
    }),
  );
  return submitted;
}

/** `count` runs at `perSecond`, round-robin over the connections: an open loop, so a slow run delays no submission. */
async function submitPaced(
  clients: readonly pg.Client[],
  statement: string,
  count: number,
  perSecond: number,
): Promise<Submitted[]> {
  const start = nowMs();
  const pending: Promise<Submitted>[] = [];
  for (let i = 0; i < count; i += 1) {
    const wait = start + (i * 1000) / perSecond - nowMs();
    if (wait > 0) await sleep(wait);
    pending.push(submit(clients[i % clients.length]!, statement));
  }
  return Promise.all(pending);
}

async function measureDispatch(
  bench: Bench,
  procgatePid: number,
  label: string,
  tag: string,
  submitAll: () => Promise<Submitted[]>,
  timeoutMs: number,
  profileStatements = false,
): Promise<DispatchResult> {
  if (profileStatements) await trackStatements(bench, true);
  const meter = new CpuMeter(procgatePid, bench.postmasterPid);
  const submitted = await submitAll();
  await waitForTag(bench, tag, submitted.length, timeoutMs);
  const cpu = meter.stop();
  let statements: string | undefined;
  if (profileStatements) {
    await trackStatements(bench, false);
    statements = await statementProfile(bench, label, submitted.length, cpu);
  }
  const times = await runTimes(bench, tag);
  const latencies: number[] = [];
  const server: number[] = [];
  const queue: number[] = [];
  const running: number[] = [];
  const execute: number[] = [];
  let failed = 0;
  let firstError: string | null = null;
  let lastFinished = 0;
  for (const run of submitted) {
    const row = times.get(run.runId);
    execute.push(run.replyMs - run.sentMs);
    if (row?.state !== 'succeeded' || row.finished_ms === null) {
      failed += 1;
      firstError ??= row === undefined ? 'run not found' : `${row.state}: ${row.error ?? ''}`;
      continue;
    }
    lastFinished = Math.max(lastFinished, row.finished_ms);
    latencies.push(row.finished_ms - run.sentMs);
    server.push(row.finished_ms - row.created_ms);
    if (row.started_ms !== null) {
      queue.push(row.started_ms - row.created_ms);
      running.push(row.finished_ms - row.started_ms);
    }
  }
  const firstSent = Math.min(...submitted.map((run) => run.sentMs));
  const lastReply = Math.max(...submitted.map((run) => run.replyMs));
  return {
    label,
    runs: submitted.length,
    failed,
    firstError,
    runsPerSecond: ((submitted.length - failed) * 1000) / (lastFinished - firstSent),
    submitPerSecond: (submitted.length * 1000) / (lastReply - firstSent),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    serverP50: percentile(server, 50),
    serverP99: percentile(server, 99),
    queueP50: percentile(queue, 50),
    runP50: percentile(running, 50),
    executeP50: percentile(execute, 50),
    cpu,
    statements,
  };
}

/** pg_stat_statements on ("all": our functions' inner statements too) from a clean slate, or off again. */
async function trackStatements(bench: Bench, on: boolean): Promise<void> {
  await bench.direct.query(`ALTER SYSTEM SET pg_stat_statements.track = '${on ? 'all' : 'none'}'`);
  await bench.direct.query('SELECT pg_reload_conf()');
  await sleep(200);
  if (on) await bench.direct.query('SELECT pg_stat_statements_reset()');
}

/** Where PostgreSQL's execution time per run went, by statement; nested ones are inside a top-level one's time. */
async function statementProfile(bench: Bench, label: string, runs: number, cpu: CpuUsage): Promise<string> {
  const { rows } = await bench.direct.query<{ toplevel: boolean; calls: string; total: number; query: string }>(
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

/** Well under what flat out reached, so runs meet no backlog: a quarter of it, 2..100 a second, for about 3 s. */
function pacing(flat: DispatchResult): { perSecond: number; count: number } {
  const perSecond = Math.max(2, Math.min(100, Math.round(flat.runsPerSecond / 4)));
  return { perSecond, count: Math.max(20, Math.min(200, perSecond * 3)) };
}

interface DispatchResults {
  readonly jsFlat: DispatchResult;
  readonly jsPaced: DispatchResult;
  readonly commandFlat: DispatchResult;
  readonly commandPaced: DispatchResult;
}

async function dispatchPhase(bench: Bench, settings: Settings): Promise<DispatchResults> {
  progress(`starting procgate (--slots ${SLOTS}) for the dispatch runs`);
  const procgate = await startProcgate(bench.databaseUrl, { args: ['--slots', String(SLOTS)], nodeArgs: cpuProfile() });
  const clients = await connectThroughProcgate(bench, procgate.port, CONNECTIONS);
  try {
    const [client] = clients;
    await client!.query(
      `CREATE PROCEDURE bench_noop_js LANGUAGE javascript FILES ('main.js' = 'export default () => {}')`,
    );
    await client!.query(
      `CREATE PROCEDURE bench_noop_command LANGUAGE command COMMAND 'true' EXECUTION MODE NONDISTRIBUTED`,
    );
    const js = (tag: string): string => `EXECUTE PROCEDURE bench_noop_js() WITH (run_tag = '${tag}')`;
    const command = (tag: string): string => `EXECUTE PROCEDURE bench_noop_command() WITH (run_tag = '${tag}')`;

    progress('warming up: 40 javascript and 20 command runs');
    await submitFlat(clients, js('js-warm'), 40);
    await submitFlat(clients, command('command-warm'), 20);
    await waitForTag(bench, 'js-warm', 40, 60_000);
    await waitForTag(bench, 'command-warm', 20, 60_000);

    const pid = procgate.pid;
    progress(`javascript: ${settings.jsRuns} no-op runs over ${CONNECTIONS} connections`);
    const jsFlat = await measureDispatch(bench, pid, 'javascript no-op, flat out', 'js-flat', () =>
      submitFlat(clients, js('js-flat'), settings.jsRuns), 180_000, true);
    const jsPace = pacing(jsFlat);
    progress(`javascript: ${jsPace.count} runs paced at ${jsPace.perSecond}/s`);
    const jsPaced = await measureDispatch(bench, pid, `javascript no-op, paced ${jsPace.perSecond}/s`, 'js-paced', () =>
      submitPaced(clients, js('js-paced'), jsPace.count, jsPace.perSecond), 60_000);
    progress(`command: ${settings.commandRuns} no-op runs over ${CONNECTIONS} connections`);
    const commandFlat = await measureDispatch(bench, pid, 'command `true`, flat out', 'command-flat', () =>
      submitFlat(clients, command('command-flat'), settings.commandRuns), 120_000, true);
    const commandPace = pacing(commandFlat);
    progress(`command: ${commandPace.count} runs paced at ${commandPace.perSecond}/s`);
    const commandPaced = await measureDispatch(
      bench,
      pid,
      `command \`true\`, paced ${commandPace.perSecond}/s`,
      'command-paced',
      () => submitPaced(clients, command('command-paced'), commandPace.count, commandPace.perSecond),
      60_000,
    );
    return { jsFlat, jsPaced, commandFlat, commandPaced };
  } finally {
    await closeAll(clients);
    await procgate.stop();
  }
}

// ---------------------------------------------------------------- data

/** The command identity: copies each input's CSV to its output's path; stamps its start and end on stdout. */
const IDENTITY_PY = `import time
print('bench-start', time.time() * 1000, flush=True)
import json, os, shutil
control = json.load(open(os.environ['PROCGATE_CONTROL_FILE']))
for source, target in zip(control['inputs'], control['outputs']):
    shutil.copyfile(source['path'], target['path'])
print('bench-end', time.time() * 1000, flush=True)
`;

/** The javascript pass-through, as a user would write it. */
const IDENTITY_JS = `export default async (ctx) => {
  console.log('bench-start ' + (performance.timeOrigin + performance.now()));
  for await (const row of ctx.inputs[0]) await ctx.outputs[0].write(row);
  console.log('bench-end ' + (performance.timeOrigin + performance.now()));
};
`;

/**
 * python3's own binary: through a version manager's shim (pyenv) each start
 * costs a few hundred ms of shell, which is the machine's, not procgate's.
 */
function python3(): string {
  return execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
}

/** Sums over every column, to check an identity kept every value. */
const CHECKSUM = (table: string): string =>
  `SELECT count(*)::text || '/' || sum(id)::text || '/' || sum(big)::text || '/' || sum(length(label))::text
          || '/' || sum(amount)::text || '/' || sum(extract(epoch FROM at))::text AS sum
     FROM ${table}`;

interface DataResult {
  readonly label: string;
  /** Seconds, or the reason there is no figure. */
  readonly seconds: number | string;
  readonly checked?: string;
  readonly cpu?: CpuUsage;
  /** procgate's largest RSS sampled during the run. */
  readonly peakRssMb?: number;
}

/** procgate's VmRSS every 50 ms: which run made the peak. */
class RssSampler {
  private peak = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    this.sample();
    this.timer = setInterval(() => this.sample(), 50);
  }

  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }

  private sample(): void {
    try {
      this.peak = Math.max(this.peak, procStatusMb(this.pid, 'VmRSS'));
    } catch {
      // Gone: the peak so far stands.
    }
  }
}

interface DataResults {
  readonly rows: number;
  readonly native: readonly DataResult[];
  readonly command: DataResult;
  readonly javascript: DataResult;
  readonly peakRssMb: number;
  readonly baselineRssMb: number;
  readonly profiles: readonly string[];
}

async function createInput(bench: Bench, rows: number): Promise<string> {
  progress(`creating the input: ${rows} rows x 5 columns`);
  await bench.direct.query(`
    CREATE TABLE bench_in AS
      SELECT g::int AS id,
             g::bigint * 1000003 AS big,
             md5(g::text) AS label,
             round(g * 1.2345, 4)::numeric AS amount,
             timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second' AS at
        FROM generate_series(1, ${String(rows)}) g`);
  await bench.direct.query('VACUUM (ANALYZE) bench_in');
  const { rows: sums } = await bench.direct.query<{ sum: string }>(CHECKSUM('bench_in'));
  return sums[0]!.sum;
}

/** A fresh output table, and a checkpoint, so each measurement starts from the same state. */
async function freshOutput(bench: Bench, table: string): Promise<void> {
  await bench.direct.query(`DROP TABLE IF EXISTS ${table}`);
  await bench.direct.query(`CREATE TABLE ${table} (LIKE bench_in)`);
  await bench.direct.query('CHECKPOINT');
}

async function nativeCopy(bench: Bench, procgatePid: number, round: number): Promise<DataResult> {
  progress(`native INSERT INTO ... SELECT, round ${round}`);
  await freshOutput(bench, 'out_native');
  const meter = new CpuMeter(procgatePid, bench.postmasterPid);
  const start = nowMs();
  await bench.direct.query('INSERT INTO out_native SELECT * FROM bench_in');
  const seconds = (nowMs() - start) / 1000;
  const cpu = meter.stop();
  await bench.direct.query('DROP TABLE out_native');
  return { label: `native ${round}`, seconds, cpu };
}

interface EngineLog {
  lines: EngineLogLine[];
}

/**
 * One data run through procgate: EXECUTE sent -> the run seen succeeded
 * (polled every 25 ms), checked against the input's checksum, profiled.
 */
async function procgateCopy(
  bench: Bench,
  procgatePid: number,
  client: pg.Client,
  label: string,
  procedure: string,
  inputSum: string,
  engineLog: EngineLog,
): Promise<{ result: DataResult; profile: string }> {
  progress(`${label}: identity over ${SEGMENTS} segments`);
  const table = `out_${procedure}`;
  await freshOutput(bench, table);
  bench.pgLog.clear();
  engineLog.lines = [];
  const tag = `data-${procedure}`;
  const meter = new CpuMeter(procgatePid, bench.postmasterPid);
  const rss = new RssSampler(procgatePid);
  const sent = await submit(
    client,
    `EXECUTE PROCEDURE ${procedure}(input => TABLE (bench_in)) INTO ${table} WITH (segments = ${String(SEGMENTS)}, run_tag = '${tag}')`,
  );
  await waitForTag(bench, tag, 1, 240_000, 25);
  const seenMs = nowMs();
  const cpu = meter.stop();
  const peakRssMb = rss.stop();
  const run = (await runTimes(bench, tag)).get(sent.runId);
  if (run?.state !== 'succeeded' || run.finished_ms === null) {
    const reason = `run ${run?.state ?? 'missing'}: ${run?.error ?? ''}`.trim();
    progress(`${label}: ${reason}`);
    return { result: { label, seconds: reason, cpu, peakRssMb }, profile: `profile: ${label}: ${reason}` };
  }
  const seconds = (seenMs - sent.sentMs) / 1000;
  const { rows } = await bench.direct.query<{ sum: string }>(CHECKSUM(table));
  const checked = rows[0]?.sum === inputSum ? 'identical' : `DIFFERS: ${rows[0]?.sum ?? ''} vs ${inputSum}`;
  const trace: DataRunTrace = {
    label,
    sentMs: sent.sentMs,
    finishedMs: run.finished_ms,
    segments: await segmentTimes(bench, sent.runId),
    engineLog: engineLog.lines.filter((line) => line.run_id === sent.runId),
    statements: bench.pgLog.statements(),
  };
  await bench.direct.query(`DROP TABLE ${table}`);
  return { result: { label, seconds, checked, cpu, peakRssMb }, profile: formatProfile(trace) };
}

async function segmentTimes(bench: Bench, runId: string): Promise<SegmentTimes[]> {
  const { rows } = await bench.direct.query<{ segment: number; claimed_ms: number; finished_ms: number }>(
    `SELECT segment, (extract(epoch FROM started_at) * 1000)::float8 AS claimed_ms,
            (extract(epoch FROM finished_at) * 1000)::float8 AS finished_ms
       FROM procgate.run_segments WHERE run_id = $1 ORDER BY segment`,
    [runId],
  );
  const { rows: lines } = await bench.direct.query<{ segment: number; line: string }>(
    `SELECT segment, line FROM procgate.run_output WHERE run_id = $1 AND line LIKE 'bench-%'`,
    [runId],
  );
  const stamp = (segment: number, word: string): number | undefined => {
    const line = lines.find((l) => l.segment === segment && l.line.startsWith(`${word} `));
    return line === undefined ? undefined : Number(line.line.slice(word.length + 1));
  };
  return rows.map((row) => ({
    segment: row.segment,
    claimedMs: Number(row.claimed_ms),
    finishedMs: Number(row.finished_ms),
    programStartMs: stamp(row.segment, 'bench-start'),
    programEndMs: stamp(row.segment, 'bench-end'),
  }));
}

/** A /proc/<pid>/status figure in MB. */
function procStatusMb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (match?.[1] === undefined) throw new Error(`no ${field} in /proc/${String(pid)}/status`);
  return Number(match[1]) / 1024;
}

async function setPostgresLogging(bench: Bench, on: boolean): Promise<void> {
  for (const name of Object.keys(LOG_SETTINGS)) {
    await bench.direct.query(
      on ? `ALTER SYSTEM SET ${name} = '${LOG_SETTINGS[name]!}'` : `ALTER SYSTEM RESET ${name}`,
    );
  }
  await bench.direct.query('SELECT pg_reload_conf()');
  // The postmaster signals the backends; give them a moment to reread.
  await sleep(300);
  bench.pgLog.capturing = on;
}

async function dataPhase(bench: Bench, settings: Settings): Promise<DataResults> {
  const inputSum = await createInput(bench, settings.rows);
  progress(`starting procgate (--slots ${SLOTS}, --log-level debug) for the data runs`);
  const engineLog: EngineLog = { lines: [] };
  const procgate = await startProcgate(bench.databaseUrl, {
    logLevel: 'debug',
    args: ['--slots', String(SLOTS)],
    nodeArgs: cpuProfile(),
    onStderrLine: (line) => {
      try {
        const record = JSON.parse(line) as EngineLogLine & { level?: number };
        engineLog.lines.push(record);
        if ((record.level ?? 0) >= 40) progress(`procgate: ${line}`);
      } catch {
        progress(`procgate: ${line}`);
      }
    },
  });
  const [client] = await connectThroughProcgate(bench, procgate.port, 1);
  try {
    const interpreter = python3().replaceAll("'", "''");
    await client!.query(
      `CREATE PROCEDURE bench_copy_command LANGUAGE command COMMAND '${interpreter}' ARGS ('identity.py')
         FILES ('identity.py' = $1)`,
      [IDENTITY_PY],
    );
    await client!.query(`CREATE PROCEDURE bench_copy_js LANGUAGE javascript FILES ('main.js' = $1)`, [IDENTITY_JS]);
    // A server that has been up a while has its worker threads warm: start them before measuring.
    await client!.query(`CREATE PROCEDURE bench_warm_js LANGUAGE javascript FILES ('main.js' = 'export default () => {}')`);
    await client!.query(`EXECUTE PROCEDURE bench_warm_js() WITH (segments = ${String(SLOTS)}, run_tag = 'data-warm')`);
    await waitForTag(bench, 'data-warm', 1, 60_000);
    const baselineRssMb = procStatusMb(procgate.pid, 'VmRSS');
    await setPostgresLogging(bench, true);
    const pid = procgate.pid;
    const native = [await nativeCopy(bench, pid, 1)];
    const command = await procgateCopy(bench, pid, client!, 'command identity', 'bench_copy_command', inputSum, engineLog);
    const javascript = await procgateCopy(bench, pid, client!, 'javascript pass-through', 'bench_copy_js', inputSum, engineLog);
    native.push(await nativeCopy(bench, pid, 2));
    const peakRssMb = procStatusMb(procgate.pid, 'VmHWM');
    await setPostgresLogging(bench, false);
    return {
      rows: settings.rows,
      native,
      command: command.result,
      javascript: javascript.result,
      peakRssMb,
      baselineRssMb,
      profiles: [command.profile, javascript.profile],
    };
  } finally {
    await client?.end().catch(() => undefined);
    await procgate.stop();
  }
}

// ---------------------------------------------------------------- report

const ms = (value: number): string => (Number.isNaN(value) ? '-' : value.toFixed(1));

function dispatchTable(results: DispatchResults): string {
  const header = [
    'dispatch',
    'runs',
    'failed',
    'runs/s',
    'p50 ms',
    'p99 ms',
    'srv p50',
    'srv p99',
    'queue p50',
    'claim->end p50',
    'EXECUTE p50',
    'submit/s',
  ];
  const rows = [results.jsFlat, results.jsPaced, results.commandFlat, results.commandPaced].map((r) => [
    r.label,
    String(r.runs),
    String(r.failed),
    r.runsPerSecond.toFixed(0),
    ms(r.p50),
    ms(r.p99),
    ms(r.serverP50),
    ms(r.serverP99),
    ms(r.queueP50),
    ms(r.runP50),
    ms(r.executeP50),
    r.submitPerSecond.toFixed(0),
  ]);
  const costHeader = ['dispatch cost per run', 'procgate CPU ms', 'PG CPU ms', 'machine busy'];
  const costRows = [results.jsFlat, results.jsPaced, results.commandFlat, results.commandPaced].map((r) => [
    r.label,
    ...cpuCells(r.cpu, r.runs / 1000, 1),
  ]);
  return `${formatColumns([header, ...rows])}\n\n${formatColumns([costHeader, ...costRows])}`;
}

function nativeSeconds(data: DataResults): number {
  return data.native.reduce((sum, run) => sum + (run.seconds as number), 0) / data.native.length;
}

const cpuCells = (cpu: CpuUsage | undefined, per = 1, digits = 2): string[] =>
  cpu === undefined
    ? ['-', '-', '-']
    : [(cpu.procgate / per).toFixed(digits), (cpu.postgres / per).toFixed(digits), `${(cpu.machineBusy * 100).toFixed(0)}%`];

function dataTable(data: DataResults): string {
  const native = nativeSeconds(data);
  const header = [
    'data (identity)',
    'seconds',
    'rows/s',
    'x native',
    'procgate CPU s',
    'PG CPU s',
    'busy',
    'peak RSS MB',
    'output',
  ];
  const row = (label: string, result: DataResult): string[] => {
    const { seconds } = result;
    const rss = result.peakRssMb === undefined ? '-' : result.peakRssMb.toFixed(0);
    return typeof seconds === 'string'
      ? [label, 'n/a', '-', '-', ...cpuCells(result.cpu), rss, seconds]
      : [
          label,
          seconds.toFixed(2),
          (data.rows / seconds).toFixed(0),
          (native / seconds).toFixed(2),
          ...cpuCells(result.cpu),
          rss,
          result.checked ?? '',
        ];
  };
  return formatColumns([
    header,
    ...data.native.map((run, i) => row(`PostgreSQL INSERT ... SELECT, round ${String(i + 1)}`, run)),
    row('command: python3 shutil.copyfile', data.command),
    row('javascript: for await ... write(row)', data.javascript),
  ]);
}

interface Bar {
  readonly description: string;
  readonly met: boolean | undefined;
  readonly detail: string;
}

function bars(dispatch: DispatchResults, data: DataResults): Bar[] {
  const native = nativeSeconds(data);
  const ratio = (result: DataResult): Bar => {
    if (typeof result.seconds === 'string') {
      return { description: `${result.label} >= 0.5x native`, met: undefined, detail: 'not available' };
    }
    const x = native / result.seconds;
    return { description: `${result.label} >= 0.5x native`, met: x >= 0.5, detail: `${x.toFixed(2)}x` };
  };
  const { jsFlat, commandFlat } = dispatch;
  return [
    {
      description: 'javascript dispatch >= 500 runs/s',
      met: jsFlat.failed === 0 && jsFlat.runsPerSecond >= 500,
      detail: `${jsFlat.runsPerSecond.toFixed(0)} runs/s`,
    },
    {
      description: 'javascript EXECUTE -> succeeded p50 <= 10 ms',
      met: jsFlat.failed === 0 && jsFlat.p50 <= 10,
      detail: `${ms(jsFlat.p50)} ms (paced: ${ms(dispatch.jsPaced.p50)} ms)`,
    },
    {
      description: 'command EXECUTE -> succeeded p50 <= 30 ms',
      met: commandFlat.failed === 0 && commandFlat.p50 <= 30,
      detail: `${ms(commandFlat.p50)} ms (paced: ${ms(dispatch.commandPaced.p50)} ms)`,
    },
    ratio(data.command),
    ratio(data.javascript),
    {
      description: 'procgate peak RSS during the data runs <= 200 MB',
      met: data.peakRssMb <= 200,
      detail: `${data.peakRssMb.toFixed(0)} MB VmHWM (${data.baselineRssMb.toFixed(0)} MB RSS before)`,
    },
  ];
}

function formatBars(list: readonly Bar[]): string {
  return list
    .map((bar) => {
      const verdict = bar.met === undefined ? 'n/a    ' : bar.met ? 'met    ' : 'NOT met';
      return `${verdict}  ${bar.description}: ${bar.detail}`;
    })
    .join('\n');
}

function failures(dispatch: DispatchResults): string[] {
  return [dispatch.jsFlat, dispatch.jsPaced, dispatch.commandFlat, dispatch.commandPaced]
    .filter((r) => r.failed > 0)
    .map((r) => `FAILED runs in "${r.label}": ${String(r.failed)}, first: ${r.firstError ?? ''}`);
}

/** The code measured: the commit, and the files of src/ that differ from it. */
function codeVersion(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line !== '').length;
    return dirty === 0 ? `commit ${head}` : `commit ${head} + ${String(dirty)} changed file(s) in src/`;
  } catch {
    return 'unknown version';
  }
}

function report(dispatch: DispatchResults, data: DataResults, startLoad: string): void {
  const loads = os.loadavg().map((load) => load.toFixed(2)).join(' ');
  const lines = [
    '',
    `procgate engine (${codeVersion()}), --slots ${SLOTS}, ${String(os.availableParallelism())} cores`,
    `load average at the start ${startLoad}, at the end ${loads}`,
    '',
    dispatchTable(dispatch),
    '  p50/p99: the client\'s EXECUTE sent -> the run\'s finished_at (same host clock); srv: created_at -> finished_at.',
    '  finished_at is set in the completion transaction just before its COMMIT; procgate sends no NOTIFY on',
    '  completion, so LISTEN cannot time it without changing the engine, and polling would add its interval.',
    '  queue: created_at -> started_at (claim). runs/s: first EXECUTE sent -> last finished_at.',
    '  CPU: procgate\'s node process (programs it ran included) and the PostgreSQL cluster, from /proc;',
    '  machine busy counts every process on the machine, the bench driver\'s and anyone else\'s too.',
    '',
    dataTable(data),
    `  ${String(data.rows)} rows x (int, bigint, text, numeric, timestamptz), ${String(SEGMENTS)} segments; procgate: EXECUTE sent ->`,
    '  run seen succeeded (polled every 25 ms); native: the statement\'s round trip, fresh table and CHECKPOINT before',
    '  each; x native against the mean of both rounds. Peak RSS: procgate\'s VmRSS sampled every 50 ms.',
    '  The command identity is python3 shutil.copyfile of the input file to the output file (the control file',
    '  names both; copyfile is the cheapest faithful identity under that contract: cat would need a shell),',
    '  with COMMAND the interpreter\'s absolute path (no pyenv shim start-up).',
    '',
    formatBars(bars(dispatch, data)),
    ...failures(dispatch),
    '',
    ...[dispatch.jsFlat, dispatch.commandFlat].flatMap((r) => (r.statements === undefined ? [] : [r.statements, ''])),
    ...data.profiles.flatMap((profile) => [profile, '']),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(): Promise<number> {
  const settings = readSettings();
  const cleanup = new Cleanup();
  cleanup.onSignals();
  const began = Date.now();
  const startLoad = os.loadavg().map((load) => load.toFixed(2)).join(' ');
  try {
    const bench = await startBench(cleanup);
    const dispatch = await dispatchPhase(bench, settings);
    const data = await dataPhase(bench, settings);
    report(dispatch, data, startLoad);
    progress(`bench:engine took ${((Date.now() - began) / 1000).toFixed(0)} s`);
    return 0;
  } finally {
    await cleanup.run();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench:engine failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
