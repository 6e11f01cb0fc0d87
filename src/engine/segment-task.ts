/** What an executor is given to run one segment of a run. */
export interface SegmentTask {
  readonly runId: string;
  readonly segment: number;
  readonly segmentCount: number;
  readonly attempt: number;
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
  readonly results: unknown;
  readonly output: readonly OutputLine[];
}

/** Runs segments of one procedure language. */
export interface Executor {
  readonly language: string;
  run(task: SegmentTask): Promise<SegmentOutcome>;
}
