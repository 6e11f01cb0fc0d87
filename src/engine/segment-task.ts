import type { SandboxUsers } from './sandbox/sandbox-users.js';
import type { SegmentDatabase } from './segment-database.js';

/** What an executor is given to run one segment of a run. */
export interface SegmentTask {
  readonly runId: string;
  readonly segment: number;
  readonly segmentCount: number;
  readonly attempt: number;
  /**
   * A fresh directory of the segment's own, made and removed by the
   * engine: the executor puts the working directory (`work/`) and
   * anything else it needs inside; the table files are there too.
   */
  readonly directory: string;
  readonly command: string;
  readonly args: readonly string[];
  /** The procedure's FILES, to lay out in the segment's working directory. */
  readonly files: readonly ProcedureFile[];
  /** The run's parameters as stored: `{ name: { value, type } }`. */
  readonly params: Readonly<Record<string, unknown>>;
  /** Kill the segment after this long; undefined: no limit. */
  readonly timeoutMs: number | undefined;
  /** Lines kept per stream (the last ones). */
  readonly maxOutputLines: number;
  /** Aborted when the run is killed or the engine stops; the reason says which. */
  readonly signal: AbortSignal;
  /** Called once the child process exists. */
  readonly onStart?: (pid: number) => void;
  /**
   * The segment's share of each TABLE argument, already in a file in
   * `dataFormat` (empty for a nondistributed run).
   */
  readonly inputs: readonly TableFile[];
  /**
   * One per INTO table: the file the executor fills in `dataFormat`,
   * loaded into the table when the segment succeeds.
   */
  readonly outputs: readonly TableFile[];
  /** The format of `inputs` and `outputs`; undefined: the executor's `dataFormat`. */
  readonly dataFormat?: DataFormat;
  /** Live reports from the running code: progress, results, messages. */
  readonly report?: (event: SegmentReport) => void;
  /** Variables and a PATH prefix from the procedure's `set_environment`. */
  readonly environment?: SegmentEnvironment;
  /**
   * The unprivileged users the program may run as, when procgate can
   * switch users (root); undefined: it runs as procgate's own user.
   */
  readonly sandbox?: SandboxUsers;
  /** The segment's login into the database as the run's caller. */
  readonly database?: SegmentDatabase;
  /**
   * The role that executed the run: a javascript process serves one
   * caller, so no module state passes from one to another.
   */
  readonly caller?: string;
}

/** A table's rows in a file: an input the engine wrote, or an output the executor writes. */
export interface TableFile {
  /** The TABLE parameter's name (input) or the INTO table as written (output). */
  readonly name: string;
  readonly path: string;
  readonly columns: readonly TableColumn[];
  /** The file's format when the executor chose it by the columns (Executor.fileFormat). */
  readonly format?: DataFormat;
}

export interface TableColumn {
  readonly name: string;
  /** PostgreSQL's name of the type, as format_type() gives it. */
  readonly type: string;
  /** The type's oid, for decoding values. */
  readonly typeOid: number;
}

/**
 * How table files are written: `csv` is PostgreSQL's CSV with a header
 * line (what command programs read and write); `text` is COPY's text
 * format without a header (what the javascript executor decodes);
 * `binary` is COPY's binary format.
 */
export type DataFormat = 'csv' | 'text' | 'binary';

export type SegmentReport =
  | { readonly kind: 'progress'; readonly fraction: number }
  | { readonly kind: 'result'; readonly key: string; readonly value: unknown }
  | { readonly kind: 'message'; readonly text: string }
  /** Rows the segment has read and written so far (a count left out stays as it was). */
  | { readonly kind: 'rows'; readonly read?: number; readonly written?: number };

export interface SegmentEnvironment {
  readonly variables: Readonly<Record<string, string>>;
  /** Directories put before the engine's PATH. */
  readonly pathPrefix: readonly string[];
}

export interface ProcedureFile {
  readonly path: string;
  readonly content: Buffer;
}

/** Why a running segment is stopped from outside. */
export const StopReason = {
  killed: 'killed',
  engineStopped: 'engine stopped',
} as const;
export type StopReason = (typeof StopReason)[keyof typeof StopReason];

export interface OutputLine {
  readonly stream: 'stdout' | 'stderr';
  /** 1-based position in the stream, counting lines no longer kept. */
  readonly line_no: number;
  readonly line: string;
}

export type SegmentState = 'succeeded' | 'failed' | 'killed';

/** How a segment ended, as the engine records it. */
export interface SegmentOutcome {
  readonly state: SegmentState;
  readonly exitCode: number | null;
  readonly message: string | null;
  /** The SQLSTATE of what failed the segment, when it is known (a PostgreSQL error, a bad parameter). */
  readonly errorCode?: string | null;
  readonly results: unknown;
  readonly output: readonly OutputLine[];
}

/** Runs segments of one procedure language. */
export interface Executor {
  readonly language: string;
  /** The format of the table files it reads and writes. */
  readonly dataFormat: DataFormat;
  /** The format of a table file of these columns, when it is not always dataFormat. */
  fileFormat?(columns: readonly TableColumn[]): DataFormat;
  run(task: SegmentTask): Promise<SegmentOutcome>;
}

/** The stored `{ name: { value, type } }` as `{ name: value }`. */
export function plainParams(params: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const plain: Record<string, unknown> = {};
  for (const [name, param] of Object.entries(params)) {
    plain[name] = typeof param === 'object' && param !== null && 'value' in param ? param.value : param;
  }
  return plain;
}
