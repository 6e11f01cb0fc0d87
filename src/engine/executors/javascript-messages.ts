/**
 * What the javascript executor and its worker thread say to each other,
 * and the context a procedure's module receives. The worker
 * (`javascript-worker.js`) is plain JavaScript so it runs the same from
 * `src/` and `dist/`; it checks itself against these types with `@ts-check`.
 */

/** The worker's `workerData`. */
export interface JavascriptWorkerData {
  /** file: URL of the entry module in the segment's working directory. */
  readonly entryUrl: string;
  /** The entry's path among the FILES, for messages. */
  readonly entryName: string;
  readonly workdir: string;
  readonly runId: string;
  readonly segment: number;
  readonly segmentCount: number;
  /** The run's parameters as plain values: `{ name: value }`. */
  readonly params: Readonly<Record<string, unknown>>;
}

/** Worker → executor. JSON values travel as text so only JSON reaches the results. */
export type FromJavascriptWorker =
  | { readonly kind: 'log'; readonly stream: 'stdout' | 'stderr'; readonly text: string }
  | { readonly kind: 'progress'; readonly fraction: number }
  | { readonly kind: 'result'; readonly key: string; readonly json: string }
  /** The default export resolved; `json` is its value, undefined when there is none or it is not JSON. */
  | { readonly kind: 'done'; readonly json: string | undefined }
  | { readonly kind: 'failed'; readonly message: string; readonly stack: string | undefined };

/** Executor → worker. */
export type ToJavascriptWorker = { readonly kind: 'abort'; readonly reason: string };

/**
 * What a javascript procedure's default export is called with.
 *
 * @example
 * // main.js among the procedure's FILES
 * import { double } from './lib/double.js';
 * export default async (ctx) => {
 *   ctx.log.info('starting segment', ctx.segment, 'of', ctx.segmentCount);
 *   ctx.progress(0.5);
 *   ctx.result('doubled', double(ctx.params.n));
 *   return { ok: true }; // merged into the segment's results
 * };
 */
export interface JavascriptContext {
  readonly runId: string;
  readonly segment: number;
  readonly segmentCount: number;
  /** The run's parameters as plain JSON values (the stored `{ value, type }` flattened to `value`). */
  readonly params: Readonly<Record<string, unknown>>;
  /** The segment's working directory holding the FILES (worker threads share the engine's cwd). */
  readonly workdir: string;
  /** Async iterators over input rows, by parameter name: empty until table data flows. */
  readonly inputs: Readonly<Record<string, AsyncIterable<Record<string, unknown>>>>;
  /** Writers for the INTO tables: empty until table data flows. */
  readonly outputs: Readonly<Record<string, unknown>>;
  /** The segment's progress, 0..1 (clamped). */
  progress(fraction: number): void;
  /** Sets one key of the segment's results; the value must be JSON-serialisable. */
  result(key: string, value: unknown): void;
  /** Lines into run_output: info → stdout, error → stderr; arguments formatted like console.log. */
  readonly log: { info(...args: unknown[]): void; error(...args: unknown[]): void };
  /** Aborted when the run is killed, times out or the engine stops; the thread is terminated soon after. */
  readonly signal: AbortSignal;
}
