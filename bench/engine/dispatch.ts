/** bench:engine's dispatch group: no-op runs flat out and paced, their rates, latencies, CPU and statement time. */
import type pg from 'pg';
import { closeAll, connectThroughProcgate } from '../support/cluster.js';
import { CpuMeter, type CpuUsage } from '../support/cpu.js';
import { cpuProfileArgs, startProcgate } from '../support/procgate.js';
import { sleep } from '../support/processes.js';
import { percentile } from '../support/report.js';
import { runTimes, submit, type Submitted, waitForTag } from '../support/runs.js';
import { nowMs, progress } from '../support/settings.js';
import { statementProfile, trackStatements } from '../support/statement-profile.js';
import { CONNECTIONS, type EngineBench, type Settings, SLOTS } from './setup.js';

export interface DispatchResult {
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
  bench: EngineBench,
  procgatePid: number,
  label: string,
  tag: string,
  submitAll: () => Promise<Submitted[]>,
  timeoutMs: number,
  profileStatements = false,
): Promise<DispatchResult> {
  if (profileStatements) await trackStatements(bench.direct, true);
  const meter = new CpuMeter(procgatePid, bench.postmasterPid);
  const submitted = await submitAll();
  await waitForTag(bench.direct, tag, submitted.length, timeoutMs);
  const cpu = meter.stop();
  let statements: string | undefined;
  if (profileStatements) {
    await trackStatements(bench.direct, false);
    statements = await statementProfile(bench.direct, label, submitted.length, cpu);
  }
  const times = await runTimes(bench.direct, tag);
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

/** Half of what flat out reached (issue 14's pacing), at least 2 a second, for about 3 s. */
function pacing(flat: DispatchResult): { perSecond: number; count: number } {
  const perSecond = Math.max(2, Math.round(flat.runsPerSecond / 2));
  return { perSecond, count: Math.max(20, Math.min(3_000, perSecond * 3)) };
}

export interface DispatchResults {
  readonly jsFlat: DispatchResult;
  readonly jsPaced: DispatchResult;
  readonly commandFlat: DispatchResult;
  readonly commandPaced: DispatchResult;
}

export async function dispatchPhase(bench: EngineBench, settings: Settings): Promise<DispatchResults> {
  progress(`starting procgate (--slots ${SLOTS}) for the dispatch runs`);
  const procgate = await startProcgate(bench.databaseUrl, { args: ['--slots', String(SLOTS)], nodeArgs: cpuProfileArgs() });
  const clients = await connectThroughProcgate(bench.cluster, procgate.port, CONNECTIONS);
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
    await waitForTag(bench.direct, 'js-warm', 40, 60_000);
    await waitForTag(bench.direct, 'command-warm', 20, 60_000);

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
