/**
 * What the javascript executor and its pooled child processes say to each
 * other over their channel (javascript-channel.js), and the context a
 * procedure's module receives. The child (`javascript-child.js`) is plain JavaScript so it
 * runs the same from `src/` and `dist/`; it checks itself against these
 * types with `@ts-check`.
 */
import type { TableColumn, TableFile } from '../segment-task.js';
import type { DatabaseLogin } from '../segment-database.js';

/** One segment for a process to run. */
export interface JavascriptSegmentData {
  /** Tags every message about this segment: a process runs many, one after another. */
  readonly job: number;
  /** file: URL of the entry module in the module cache. */
  readonly entryUrl: string;
  /** The entry's path among the FILES, for messages. */
  readonly entryName: string;
  /** The segment's working directory: the process's cwd while the segment runs. */
  readonly workdir: string;
  readonly runId: string;
  readonly segment: number;
  readonly segmentCount: number;
  /** The run's parameters as plain values: `{ name: value }`. */
  readonly params: Readonly<Record<string, unknown>>;
  /** What the segment's environment adds to the process's own (`set_environment`'s variables, TMPDIR). */
  readonly variables: Readonly<Record<string, string>>;
  /** Directories put before PATH. */
  readonly pathPrefix: readonly string[];
  /** Files in COPY text format, as SegmentTask has them. */
  readonly inputs: readonly TableFile[];
  readonly outputs: readonly TableFile[];
}

/** The segment's database login, as the child connects with it. */
export type JavascriptLogin = DatabaseLogin;

/** Executor → child. */
export type ToJavascriptChild =
  | { readonly kind: 'run'; readonly segment: JavascriptSegmentData }
  | { readonly kind: 'abort'; readonly job: number; readonly reason: string }
  /** The answer to a `login` request: the login, or why there is none. */
  | { readonly kind: 'login'; readonly job: number; readonly login?: JavascriptLogin; readonly error?: string };

/**
 * Child → executor. `job` is the segment the message is about (undefined:
 * console output of no segment's code). JSON values travel as text so only
 * JSON reaches the results.
 */
export type FromJavascriptChild =
  /** The process has loaded and waits for segments. */
  | { readonly kind: 'ready' }
  | { readonly kind: 'output'; readonly job: number | undefined; readonly stream: 'stdout' | 'stderr'; readonly text: string }
  | { readonly kind: 'progress'; readonly job: number; readonly fraction: number }
  | { readonly kind: 'result'; readonly job: number; readonly key: string; readonly json: string }
  /** ctx.db's first use: the segment's login, please. */
  | { readonly kind: 'login'; readonly job: number }
  /** The default export resolved and the outputs are closed; `json` is its value, undefined when there is none or it is not JSON. */
  | { readonly kind: 'done'; readonly job: number; readonly json?: string | undefined }
  | { readonly kind: 'failed'; readonly job: number; readonly message: string; readonly stack?: string | undefined }
  /** An exception nothing caught: the process exits after this message, failing the segment it runs. */
  | { readonly kind: 'fatal'; readonly message: string; readonly stack?: string | undefined };

/**
 * What a javascript procedure's default export is called with.
 *
 * The module runs in a pooled Node process that runs many segments, one
 * at a time, all of the same procedure (the same FILES) and the same
 * caller, and imports the FILES once: module-level state (variables,
 * caches, timers left running) may persist between segments that run on
 * the same process, and nothing promises that two segments share it.
 * `import.meta.url` is in a cache shared by those segments: write files
 * under `workdir` (the process's cwd while the segment runs), never next
 * to the module.
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
 *   const { rows } = await ctx.db.query('SELECT count(*)::int AS n FROM docs');
 *   ctx.result('written', out.rowCount);
 *   return { ok: true, docs: rows[0].n }; // merged into the segment's results
 * };
 */
export interface JavascriptContext {
  readonly runId: string;
  readonly segment: number;
  readonly segmentCount: number;
  /** The run's parameters as plain JSON values (the stored `{ value, type }` flattened to `value`). */
  readonly params: Readonly<Record<string, unknown>>;
  /** The segment's own working directory, holding a copy of the FILES; the process's cwd while the segment runs. */
  readonly workdir: string;
  /**
   * The procedure's environment: the engine's without its secrets
   * (PROCGATE_*, PG*), plus `set_environment`'s variables, with its PATH
   * prefix. `process.env` holds the same while the segment runs.
   */
  readonly env: Readonly<Record<string, string>>;
  /** Each TABLE argument's rows for this segment, by parameter name and by position (`inputs[0]`). */
  readonly inputs: Readonly<Record<string, JavascriptInput>>;
  /** A writer for each INTO table, by the name as written in INTO and by position (`outputs[0]`). */
  readonly outputs: Readonly<Record<string, JavascriptOutput>>;
  /** The database, as the role that executed the run. */
  readonly db: JavascriptDatabase;
  /** The segment's progress, 0..1 (clamped); visible while the segment runs. */
  progress(fraction: number): void;
  /** Sets one key of the segment's results (visible while it runs); the value must be JSON-serialisable. */
  result(key: string, value: unknown): void;
  /** Lines into run_output: info → stdout, error → stderr; arguments formatted like console.log (console works too). */
  readonly log: { info(...args: unknown[]): void; error(...args: unknown[]): void };
  /** Aborted when the run is killed, times out or the engine stops; the process is killed soon after. */
  readonly signal: AbortSignal;
}

/**
 * A connection to the database with exactly the rights of the role that
 * executed the run, opened at the first query and closed when the
 * segment's default export settles.
 */
export interface JavascriptDatabase {
  /** Runs one statement, `$1`-style placeholders taking `values`, as pg's `client.query` does. */
  query(text: string, values?: readonly unknown[]): Promise<JavascriptQueryResult>;
  /**
   * libpq's variables (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD…)
   * and PROCGATE_DATABASE_URL of the same login, for a program the module
   * starts (`spawn('psql', [...], { env: { ...process.env, ...await ctx.db.environment() } })`).
   */
  environment(): Promise<Readonly<Record<string, string>>>;
}

/** A statement's result, as pg gives it. */
export interface JavascriptQueryResult {
  /** The command tag's verb: SELECT, INSERT… */
  readonly command: string;
  readonly rows: Record<string, unknown>[];
  /** Rows returned or affected; null for a statement that has no count. */
  readonly rowCount: number | null;
  readonly fields: readonly { readonly name: string; readonly dataTypeID: number }[];
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
  /**
   * The rows as batches of `size` rows (8192 unless told; the last may be
   * shorter), decoded straight into columns: int2, int4, oid, float4 and
   * float8 as Int16Array, Int32Array, Uint32Array, Float32Array and
   * Float64Array, int8 as BigInt64Array (exact), the other types as arrays
   * of the values the row iterator gives. `nulls` has a Uint8Array per
   * column, 1 where the value is NULL (a typed array holds 0 there, an
   * array null).
   */
  batches(options?: { readonly size?: number }): AsyncIterable<JavascriptBatch>;
}

/** Rows as columns: what `batches()` yields and `writeBatch()` takes. */
export interface JavascriptBatch {
  readonly length: number;
  /** Each column's values by name: an array or a typed array of `length` values. */
  readonly columns: Readonly<Record<string, ArrayLike<unknown>>>;
  /** Per column, truthy where the value is NULL (any array-like of `length`); optional when writing. */
  readonly nulls?: Readonly<Record<string, ArrayLike<unknown>>>;
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
  /**
   * Adds `batch.length` rows given as columns (see JavascriptBatch): a
   * column missing from `columns` is NULL, as is a row whose `nulls` mask
   * is truthy; array values are written as `write` writes them, typed
   * array values by String. An unknown column, or values or a mask whose
   * length is not `batch.length`, throws and writes none of the batch.
   * Await the promise, as with `write`.
   */
  writeBatch(batch: JavascriptBatch): Promise<void>;
}
