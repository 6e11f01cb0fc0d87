/**
 * What the javascript executor and its pooled worker threads say to each
 * other, and the context a procedure's module receives. The worker
 * (`javascript-worker.js`) is plain JavaScript so it runs the same from
 * `src/` and `dist/`; it checks itself against these types with `@ts-check`.
 */
import type { TableColumn, TableFile } from '../segment-task.js';

/** One segment for a thread to run. */
export interface JavascriptSegmentData {
  /** Tags every message about this segment: a thread runs many, one after another. */
  readonly job: number;
  /** file: URL of the entry module in the module cache. */
  readonly entryUrl: string;
  /** The entry's path among the FILES, for messages. */
  readonly entryName: string;
  readonly workdir: string;
  readonly runId: string;
  readonly segment: number;
  readonly segmentCount: number;
  /** The run's parameters as plain values: `{ name: value }`. */
  readonly params: Readonly<Record<string, unknown>>;
  /** The environment the procedure is given (`ctx.env`). */
  readonly env: Readonly<Record<string, string>>;
  /** Files in COPY text format, as SegmentTask has them. */
  readonly inputs: readonly TableFile[];
  readonly outputs: readonly TableFile[];
}

/** Executor → worker. */
export type ToJavascriptWorker =
  | { readonly kind: 'run'; readonly segment: JavascriptSegmentData }
  | { readonly kind: 'abort'; readonly job: number; readonly reason: string };

/**
 * Worker → executor. `job` is the segment the message is about (undefined:
 * console output of no segment's code). JSON values travel as text so only
 * JSON reaches the results.
 */
export type FromJavascriptWorker =
  | { readonly kind: 'output'; readonly job: number | undefined; readonly stream: 'stdout' | 'stderr'; readonly text: string }
  | { readonly kind: 'progress'; readonly job: number; readonly fraction: number }
  | { readonly kind: 'result'; readonly job: number; readonly key: string; readonly json: string }
  /** The default export resolved and the outputs are closed; `json` is its value, undefined when there is none or it is not JSON. */
  | { readonly kind: 'done'; readonly job: number; readonly json: string | undefined }
  | { readonly kind: 'failed'; readonly job: number; readonly message: string; readonly stack: string | undefined };

/**
 * What a javascript procedure's default export is called with.
 *
 * The module runs in a pooled worker thread that runs many segments, one
 * at a time, and imports a given set of FILES once: module-level state
 * (variables, caches, timers left running) may persist between segments
 * that run on the same thread, and nothing promises that two segments
 * share it. `import.meta.url` is in a cache shared by those segments:
 * write files under `workdir`, never next to the module.
 *
 * @example
 * // main.js among the procedure's FILES
 * import { double } from './lib/double.js';
 * export default async (ctx) => {
 *   ctx.log.info('starting segment', ctx.segment, 'of', ctx.segmentCount);
 *   const out = ctx.outputs[0];
 *   for await (const row of ctx.inputs.docs) {
 *     await out.write({ id: row.id, n: double(row.n) });
 *   }
 *   ctx.result('written', out.rowCount);
 *   return { ok: true }; // merged into the segment's results
 * };
 */
export interface JavascriptContext {
  readonly runId: string;
  readonly segment: number;
  readonly segmentCount: number;
  /** The run's parameters as plain JSON values (the stored `{ value, type }` flattened to `value`). */
  readonly params: Readonly<Record<string, unknown>>;
  /** The segment's own working directory, holding a copy of the FILES (worker threads share the engine's cwd). */
  readonly workdir: string;
  /**
   * The procedure's environment: the engine's without its secrets
   * (PROCGATE_*, PG*), plus `set_environment`'s variables, with its PATH
   * prefix. A pooled thread cannot change its environment per segment, so
   * `process.env` is the engine's environment without secrets only.
   */
  readonly env: Readonly<Record<string, string>>;
  /** Each TABLE argument's rows for this segment, by parameter name and by position (`inputs[0]`). */
  readonly inputs: Readonly<Record<string, JavascriptInput>>;
  /** A writer for each INTO table, by the name as written in INTO and by position (`outputs[0]`). */
  readonly outputs: Readonly<Record<string, JavascriptOutput>>;
  /** The segment's progress, 0..1 (clamped); visible while the segment runs. */
  progress(fraction: number): void;
  /** Sets one key of the segment's results (visible while it runs); the value must be JSON-serialisable. */
  result(key: string, value: unknown): void;
  /** Lines into run_output: info → stdout, error → stderr; arguments formatted like console.log (console works too). */
  readonly log: { info(...args: unknown[]): void; error(...args: unknown[]): void };
  /** Aborted when the run is killed, times out or the engine stops; the thread is terminated soon after. */
  readonly signal: AbortSignal;
}

/**
 * The rows of a TABLE argument, read from its file as they are iterated
 * (never all at once); each iteration starts from the first row. Values
 * are decoded as `pg` decodes query results: int4 and float8 are numbers,
 * int8 and numeric strings (exact), booleans booleans, timestamps and
 * dates Dates (milliseconds only; date and timestamp in local time),
 * json/jsonb parsed, bytea Buffers, arrays of those arrays (but numeric[]
 * is numbers: pg's parser), other types text.
 */
export interface JavascriptInput extends AsyncIterable<Record<string, unknown>> {
  readonly name: string;
  readonly columns: readonly TableColumn[];
}

/**
 * Writes an INTO table's rows for this segment; they are loaded into the
 * table if the segment succeeds. Outputs are flushed and closed when the
 * default export settles: a write after that fails.
 */
export interface JavascriptOutput {
  readonly name: string;
  readonly columns: readonly TableColumn[];
  /** Rows written so far. */
  readonly rowCount: number;
  /**
   * Adds a row: an object by column name (a missing column is NULL, an
   * unknown key throws a TypeError) or an array by position. null and
   * undefined are NULL; strings are written as they are; numbers, bigints
   * by String; booleans t/f; Dates as ISO 8601 (date and timestamp
   * columns: local time, as they are read); Buffers and Uint8Arrays as
   * bytea; arrays as PostgreSQL arrays (in json/jsonb columns: JSON, where
   * null is still SQL NULL); objects with `toPostgres()` by it, as pg
   * does; other objects as JSON. The promise resolves when there is room
   * for more: await it to keep memory bounded.
   */
  write(row: Readonly<Record<string, unknown>> | readonly unknown[]): Promise<void>;
}
