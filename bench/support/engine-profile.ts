import type { LoggedStatement } from './postgres-log.js';
import { formatColumns } from './report.js';

/** A line of procgate's JSON log (pino), as far as the profile reads it. */
export interface EngineLogLine {
  readonly time: number;
  readonly msg: string;
  readonly run_id?: string;
  readonly segment?: number;
}

/** A segment of a data run, from procgate.run_segments and the program's own timestamps. */
export interface SegmentTimes {
  readonly segment: number;
  readonly claimedMs: number;
  readonly finishedMs: number;
  /** From the program's `bench-start <ms>` / `bench-end <ms>` stdout lines. */
  readonly programStartMs: number | undefined;
  readonly programEndMs: number | undefined;
}

/** What a data run left to profile. */
export interface DataRunTrace {
  readonly label: string;
  /** When the client sent EXECUTE (this host's clock, as PostgreSQL's). */
  readonly sentMs: number;
  readonly finishedMs: number;
  readonly segments: readonly SegmentTimes[];
  readonly engineLog: readonly EngineLogLine[];
  readonly statements: readonly LoggedStatement[];
}

/** A step of the data path: how often, how long in all, the longest, and when (first start to last end). */
interface Step {
  readonly name: string;
  readonly spans: readonly { readonly startMs: number; readonly endMs: number }[];
}

/** Filling a staging table: CREATE ... AS, or INSERT into one made LIKE the query's shape. */
const STAGING = /(CREATE UNLOGGED TABLE|INSERT INTO) procgate_staging\./;

/** The SQL steps of the data path, told apart by their text (see run-planner.ts, input-files.ts, output-files.ts, as-caller.ts). */
const SQL_STEPS: readonly { readonly name: string; readonly matches: (s: LoggedStatement) => boolean }[] = [
  {
    name: 'stage: fill the staging table (caller)',
    matches: (s) => s.text.includes('procgate_as_caller') && STAGING.test(s.detail),
  },
  { name: 'COPY share of staging -> file', matches: (s) => /^COPY \(SELECT .* FROM procgate_staging\./s.test(s.text) },
  {
    name: 'COPY file -> INTO table (caller)',
    matches: (s) => /^COPY (?!pg_temp\.)[^(]\S* \(.*\) FROM STDIN/s.test(s.text),
  },
  { name: 'COPY file -> temp table', matches: (s) => /^COPY pg_temp\.procgate_output_/.test(s.text) },
  {
    name: 'INSERT temp -> INTO table (caller)',
    matches: (s) => s.text.includes('procgate_as_caller') && s.detail.includes('INSERT INTO') && !STAGING.test(s.detail),
  },
  { name: 'COMMIT', matches: (s) => /^COMMIT\b/i.test(s.text) },
];

const seconds = (ms: number): string => (ms / 1000).toFixed(2);

/**
 * Where a data run's time went: the SQL steps PostgreSQL logged with their
 * durations, the program's own span, and the engine's log, each as count,
 * summed time, longest, and the window from the first start to the last
 * end (seconds from EXECUTE). Segments run in parallel, so the windows,
 * not the sums, make the wall time.
 */
export function formatProfile(trace: DataRunTrace): string {
  const { sentMs } = trace;
  const window = trace.statements.filter((s) => s.endMs >= sentMs && s.endMs <= trace.finishedMs + 5);
  const steps: Step[] = [];
  const claimed = trace.segments.map((s) => s.claimedMs);
  const planned = trace.engineLog.find((line) => line.msg === 'run planned');
  steps.push({
    name: 'EXECUTE -> run planned (engine log)',
    spans: planned === undefined ? [] : [{ startMs: sentMs, endMs: planned.time }],
  });
  const sqlSpans = SQL_STEPS.map((step) => ({
    name: step.name,
    spans: window.filter(step.matches).map((s) => ({ startMs: s.endMs - s.durationMs, endMs: s.endMs })),
  }));
  steps.push(sqlSpans[0]!);
  steps.push({
    name: 'planned -> segment claimed',
    spans: planned === undefined ? [] : claimed.map((at) => ({ startMs: planned.time, endMs: at })),
  });
  steps.push(sqlSpans[1]!);
  const processStarted = new Map(
    trace.engineLog.filter((line) => line.msg === 'segment process started').map((line) => [line.segment, line.time]),
  );
  steps.push({
    name: 'claimed -> process spawned (engine log)',
    spans: trace.segments.flatMap((s) => {
      const at = processStarted.get(s.segment);
      return at === undefined ? [] : [{ startMs: s.claimedMs, endMs: at }];
    }),
  });
  steps.push({
    name: 'claimed -> program running (its stdout)',
    spans: trace.segments.flatMap((s) =>
      s.programStartMs === undefined ? [] : [{ startMs: s.claimedMs, endMs: s.programStartMs }],
    ),
  });
  steps.push({
    name: 'program (its stdout)',
    spans: trace.segments.flatMap((s) =>
      s.programStartMs === undefined || s.programEndMs === undefined
        ? []
        : [{ startMs: s.programStartMs, endMs: s.programEndMs }],
    ),
  });
  steps.push({
    name: 'program end -> segment finished_at',
    spans: trace.segments.flatMap((s) =>
      s.programEndMs === undefined ? [] : [{ startMs: s.programEndMs, endMs: s.finishedMs }],
    ),
  });
  steps.push(...sqlSpans.slice(2));
  const classified = new Set(window.filter((s) => SQL_STEPS.some((step) => step.matches(s))));
  steps.push({
    name: 'other SQL (catalog, claims, DDL...)',
    spans: window.filter((s) => !classified.has(s)).map((s) => ({ startMs: s.endMs - s.durationMs, endMs: s.endMs })),
  });

  const header = ['step', 'n', 'sum s', 'max s', 'window s (from EXECUTE)'];
  const rows = steps.map((step) => {
    if (step.spans.length === 0) return [step.name, '0', '-', '-', '-'];
    const lengths = step.spans.map((span) => span.endMs - span.startMs);
    const first = Math.min(...step.spans.map((span) => span.startMs)) - sentMs;
    const last = Math.max(...step.spans.map((span) => span.endMs)) - sentMs;
    return [
      step.name,
      String(step.spans.length),
      seconds(lengths.reduce((a, b) => a + b, 0)),
      seconds(Math.max(...lengths)),
      `${seconds(first)} - ${seconds(last)}`,
    ];
  });
  const title = `profile: ${trace.label}, ${seconds(trace.finishedMs - sentMs)} s from EXECUTE to the run's finished_at`;
  return [title, formatColumns([header, ...rows])].join('\n');
}
