import type { OutputLine } from '../segment-task.js';

/** Longest line kept; a longer one is cut, so one runaway line cannot fill memory. */
const MAX_LINE_LENGTH = 64 * 1024;

/** The last `limit` lines of one stream, numbered from the stream's start. */
export class LineTail {
  private readonly lines: string[] = [];
  private count = 0;
  private partial = '';

  constructor(
    private readonly stream: OutputLine['stream'],
    private readonly limit: number,
  ) {}

  /** Feeds a chunk of the stream; complete lines are kept, the rest waits for more. */
  push(chunk: string): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = (parts.pop() ?? '').slice(0, MAX_LINE_LENGTH);
    for (const part of parts) this.add(part);
  }

  /** Ends the stream: a last line without a newline still counts. */
  end(): void {
    if (this.partial !== '') this.add(this.partial);
    this.partial = '';
  }

  /** The kept lines, oldest first. */
  output(): OutputLine[] {
    const first = this.count - this.lines.length + 1;
    return this.lines.map((line, i) => ({ stream: this.stream, line_no: first + i, line }));
  }

  /** The last `n` kept lines as one text. */
  tail(n: number): string {
    return this.lines.slice(-n).join('\n');
  }

  private add(line: string): void {
    this.count += 1;
    this.lines.push(line.endsWith('\r') ? line.slice(0, -1).slice(0, MAX_LINE_LENGTH) : line.slice(0, MAX_LINE_LENGTH));
    if (this.lines.length > this.limit) this.lines.shift();
  }
}
