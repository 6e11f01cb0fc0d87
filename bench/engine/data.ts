/** bench:engine's data group: an identity through procgate (command and javascript) against INSERT ... SELECT. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type pg from 'pg';
import { connectThroughProcgate } from '../support/cluster.js';
import { CpuMeter, type CpuUsage } from '../support/cpu.js';
import { type DataRunTrace, type EngineLogLine, formatProfile, type SegmentTimes } from '../support/engine-profile.js';
import { procStatusMb, RssSampler } from '../support/memory.js';
import { setPostgresLogging } from '../support/postgres-log.js';
import { cpuProfileArgs, startProcgate } from '../support/procgate.js';
import { runTimes, submit, waitForTag } from '../support/runs.js';
import { nowMs, progress } from '../support/settings.js';
import { type EngineBench, SEGMENTS, type Settings, SLOTS } from './setup.js';

/** The command identity: copies each input's CSV to its output's path; stamps its start and end on stdout. */
const IDENTITY_PY = `import time
print('bench-start', time.time() * 1000, flush=True)
import json, os, shutil
control = json.load(open(os.environ['PROCGATE_CONTROL_FILE']))
for source, target in zip(control['inputs'], control['outputs']):
    shutil.copyfile(source['path'], target['path'])
print('bench-end', time.time() * 1000, flush=True)
`;

/** The javascript pass-through, as a user would write it with the row API. */
const IDENTITY_JS = `export default async (ctx) => {
  console.log('bench-start ' + (performance.timeOrigin + performance.now()));
  for await (const row of ctx.inputs[0]) await ctx.outputs[0].write(row);
  console.log('bench-end ' + (performance.timeOrigin + performance.now()));
};
`;

/** The same with the batch API: columns in, columns out. */
const IDENTITY_JS_BATCHES = `export default async (ctx) => {
  console.log('bench-start ' + (performance.timeOrigin + performance.now()));
  for await (const batch of ctx.inputs[0].batches()) await ctx.outputs[0].writeBatch(batch);
  console.log('bench-end ' + (performance.timeOrigin + performance.now()));
};
`;

/**
 * python3's own binary: through a version manager's shim (pyenv) each start
 * costs a few hundred ms of shell, which is the machine's, not procgate's.
 * The system's first when there is one: programs run as sandbox uids, which
 * cannot reach an interpreter installed under root's home.
 */
function python3(): string {
  if (existsSync('/usr/bin/python3')) return '/usr/bin/python3';
  return execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
}

/** Sums over every column, to check an identity kept every value. */
const CHECKSUM = (table: string): string =>
  `SELECT count(*)::text || '/' || sum(id)::text || '/' || sum(big)::text || '/' || sum(length(label))::text
          || '/' || sum(amount)::text || '/' || sum(extract(epoch FROM at))::text AS sum
     FROM ${table}`;

export interface DataResult {
  readonly label: string;
  /** Seconds, or the reason there is no figure. */
  readonly seconds: number | string;
  readonly checked?: string;
  readonly cpu?: CpuUsage;
  /** procgate's largest RSS sampled during the run. */
  readonly peakRssMb?: number;
}

export interface DataResults {
  readonly rows: number;
  readonly native: readonly DataResult[];
  readonly command: DataResult;
  /** The same program with the procedure's data_format = 'binary': COPY's binary files. */
  readonly commandBinary: DataResult;
  readonly javascript: DataResult;
  readonly javascriptBatches: DataResult;
  readonly peakRssMb: number;
  readonly baselineRssMb: number;
  readonly profiles: readonly string[];
}

async function createInput(bench: EngineBench, rows: number): Promise<string> {
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
async function freshOutput(bench: EngineBench, table: string): Promise<void> {
  await bench.direct.query(`DROP TABLE IF EXISTS ${table}`);
  await bench.direct.query(`CREATE TABLE ${table} (LIKE bench_in)`);
  await bench.direct.query('CHECKPOINT');
}

async function nativeCopy(bench: EngineBench, procgatePid: number, round: number): Promise<DataResult> {
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
  bench: EngineBench,
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
  await waitForTag(bench.direct, tag, 1, 240_000, 25);
  const seenMs = nowMs();
  const cpu = meter.stop();
  const peakRssMb = rss.stop();
  const run = (await runTimes(bench.direct, tag)).get(sent.runId);
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

async function segmentTimes(bench: EngineBench, runId: string): Promise<SegmentTimes[]> {
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

export async function dataPhase(bench: EngineBench, settings: Settings): Promise<DataResults> {
  const inputSum = await createInput(bench, settings.rows);
  progress(`starting procgate (--slots ${SLOTS}, --log-level debug) for the data runs`);
  const engineLog: EngineLog = { lines: [] };
  const procgate = await startProcgate(bench.databaseUrl, {
    logLevel: 'debug',
    args: ['--slots', String(SLOTS)],
    nodeArgs: cpuProfileArgs(),
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
  const [client] = await connectThroughProcgate(bench.cluster, procgate.port, 1);
  try {
    const interpreter = python3().replaceAll("'", "''");
    await client!.query(
      `CREATE PROCEDURE bench_copy_command LANGUAGE command COMMAND '${interpreter}' ARGS ('identity.py')
         FILES ('identity.py' = $1)`,
      [IDENTITY_PY],
    );
    await client!.query(
      `CREATE PROCEDURE bench_copy_binary LANGUAGE command COMMAND '${interpreter}' ARGS ('identity.py')
         FILES ('identity.py' = $1) WITH (data_format = 'binary')`,
      [IDENTITY_PY],
    );
    await client!.query(`CREATE PROCEDURE bench_copy_js LANGUAGE javascript FILES ('main.js' = $1)`, [IDENTITY_JS]);
    await client!.query(`CREATE PROCEDURE bench_copy_js_batches LANGUAGE javascript FILES ('main.js' = $1)`, [
      IDENTITY_JS_BATCHES,
    ]);
    // A server that has been up a while has warm javascript processes for a procedure its users run:
    // each pass-through runs once on no rows before it is measured (a process serves one caller's procedure).
    for (const procedure of ['bench_copy_js', 'bench_copy_js_batches']) {
      await client!.query(
        `EXECUTE PROCEDURE ${procedure}(input => TABLE (SELECT * FROM bench_in WHERE false)) INTO bench_warm_out
           WITH (segments = ${String(SEGMENTS)}, run_tag = 'data-warm-${procedure}')`,
      );
      await waitForTag(bench.direct, `data-warm-${procedure}`, 1, 60_000);
      await bench.direct.query('DROP TABLE bench_warm_out');
    }
    const baselineRssMb = procStatusMb(procgate.pid, 'VmRSS');
    await setPostgresLogging(bench.direct, bench.pgLog, true);
    const pid = procgate.pid;
    const native = [await nativeCopy(bench, pid, 1)];
    const command = await procgateCopy(bench, pid, client!, 'command identity', 'bench_copy_command', inputSum, engineLog);
    const binary = await procgateCopy(bench, pid, client!, 'command binary identity', 'bench_copy_binary', inputSum, engineLog);
    const javascript = await procgateCopy(bench, pid, client!, 'javascript pass-through', 'bench_copy_js', inputSum, engineLog);
    const javascriptBatches = await procgateCopy(
      bench,
      pid,
      client!,
      'javascript pass-through (batches)',
      'bench_copy_js_batches',
      inputSum,
      engineLog,
    );
    native.push(await nativeCopy(bench, pid, 2));
    const peakRssMb = procStatusMb(procgate.pid, 'VmHWM');
    await setPostgresLogging(bench.direct, bench.pgLog, false);
    return {
      rows: settings.rows,
      native,
      command: command.result,
      commandBinary: binary.result,
      javascript: javascript.result,
      javascriptBatches: javascriptBatches.result,
      peakRssMb,
      baselineRssMb,
      profiles: [command.profile, binary.profile, javascript.profile, javascriptBatches.profile],
    };
  } finally {
    await client?.end().catch(() => undefined);
    await procgate.stop();
  }
}
