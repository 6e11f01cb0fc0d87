/** bench:engine's report: the dispatch and data tables, the bars, the profiles. */
import os from 'node:os';
import type { CpuUsage } from '../support/cpu.js';
import { type Bar, codeVersion, formatBars, formatColumns, loadAverages, printReport } from '../support/report.js';
import type { DataResult, DataResults } from './data.js';
import type { DispatchResults } from './dispatch.js';
import { SEGMENTS, SLOTS } from './setup.js';

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
    row('command binary: same, data_format binary', data.commandBinary),
    row('javascript: for await ... write(row)', data.javascript),
    row('javascript: for await ... writeBatch(batch)', data.javascriptBatches),
  ]);
}

/** Issue 14's bars. */
function bars(dispatch: DispatchResults, data: DataResults): Bar[] {
  const native = nativeSeconds(data);
  const ratio = (result: DataResult, bar: number): Bar => {
    const description = `${result.label} >= ${String(bar)}x native`;
    if (typeof result.seconds === 'string') return { description, met: undefined, detail: 'not available' };
    const x = native / result.seconds;
    return { description, met: x >= bar, detail: `${x.toFixed(2)}x` };
  };
  const { jsFlat, jsPaced, commandFlat, commandPaced } = dispatch;
  return [
    {
      description: 'javascript no-op dispatch, flat out >= 1000 runs/s',
      met: jsFlat.failed === 0 && jsFlat.runsPerSecond >= 1000,
      detail: `${jsFlat.runsPerSecond.toFixed(0)} runs/s`,
    },
    {
      description: 'javascript EXECUTE -> finished_at p50, paced at half the flat rate <= 5 ms',
      met: jsPaced.failed === 0 && jsPaced.p50 <= 5,
      detail: `${ms(jsPaced.p50)} ms (command: ${ms(commandPaced.p50)} ms)`,
    },
    {
      description: 'command `true` dispatch, flat out >= 300 runs/s',
      met: commandFlat.failed === 0 && commandFlat.runsPerSecond >= 300,
      detail: `${commandFlat.runsPerSecond.toFixed(0)} runs/s`,
    },
    ratio(data.command, 0.6),
    ratio(data.commandBinary, 0.6),
    ratio(data.javascriptBatches, 0.5),
    {
      description: 'procgate peak RSS during the data runs <= 150 MB',
      met: data.peakRssMb <= 150,
      detail: `${data.peakRssMb.toFixed(0)} MB VmHWM (${data.baselineRssMb.toFixed(0)} MB RSS before)`,
    },
  ];
}

function failures(dispatch: DispatchResults): string[] {
  return [dispatch.jsFlat, dispatch.jsPaced, dispatch.commandFlat, dispatch.commandPaced]
    .filter((r) => r.failed > 0)
    .map((r) => `FAILED runs in "${r.label}": ${String(r.failed)}, first: ${r.firstError ?? ''}`);
}

export function report(dispatch: DispatchResults, data: DataResults, startLoad: string): void {
  const loads = loadAverages();
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
  printReport(lines);
}
