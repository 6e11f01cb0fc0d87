import type { SegmentTask } from '../segment-task.js';

/** Longest status line kept; a longer one is dropped. */
const MAX_LINE = 1 << 20;

/**
 * The side channel of a command procedure: file descriptor 3
 * (PROCGATE_STATUS_FD), one JSON object a line, any of
 *
 *   {"progress": 0.25}              the segment's progress, 0..1
 *   {"result": {"rows_seen": 10}}   keys merged into the segment's results
 *   {"message": "loading model"}    the segment's message, shown while it runs
 *
 * All three are reported live (procgate.run_segments, procgate.runs).
 * A line that is not such an object is ignored: the program's own output
 * belongs on stdout and stderr.
 */
export class StatusChannel {
  private partial = '';
  private readonly merged: Record<string, unknown> = {};
  private hasResults = false;
  lastMessage: string | null = null;

  constructor(private readonly task: Pick<SegmentTask, 'report'>) {}

  push(chunk: string): void {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    if (this.partial.length > MAX_LINE) this.partial = '';
    for (const line of lines) this.accept(line);
  }

  end(): void {
    if (this.partial !== '') this.accept(this.partial);
    this.partial = '';
  }

  /** The merged results, or null when the program sent none. */
  results(): Record<string, unknown> | null {
    return this.hasResults ? { ...this.merged } : null;
  }

  private accept(line: string): void {
    let status: unknown;
    try {
      status = JSON.parse(line);
    } catch {
      return;
    }
    if (typeof status !== 'object' || status === null || Array.isArray(status)) return;
    const { progress, result, message } = status as Record<string, unknown>;
    if (typeof progress === 'number' && Number.isFinite(progress)) {
      this.task.report?.({ kind: 'progress', fraction: Math.min(1, Math.max(0, progress)) });
    }
    if (typeof result === 'object' && result !== null && !Array.isArray(result)) {
      Object.assign(this.merged, result);
      this.hasResults = true;
      for (const [key, value] of Object.entries(result)) this.task.report?.({ kind: 'result', key, value });
    }
    if (typeof message === 'string') {
      this.lastMessage = message;
      this.task.report?.({ kind: 'message', text: message });
    }
  }
}
