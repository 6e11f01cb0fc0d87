import type pg from 'pg';
import type { Logger } from '../log/logger.js';
import type { SegmentReport } from './segment-task.js';
import type { SegmentClaim } from './sql/claim-segments.js';
import { reportSegment, type SegmentFigures } from './sql/report-segment.js';

export type { SegmentFigures } from './sql/report-segment.js';

/** A report of rows read and written as the figures it sets. */
export function rowFigures(event: Extract<SegmentReport, { kind: 'rows' }>): SegmentFigures {
  return {
    ...(event.read === undefined ? {} : { rowsIn: event.read }),
    ...(event.written === undefined ? {} : { rowsOut: event.written }),
  };
}

/** Reports are written at most this often per segment; the latest figures win. */
const REPORT_INTERVAL_MS = 250;

/**
 * Writes a running segment's progress, rows read and written and last
 * message to its row (and the run's roll-up) while it runs, fenced by
 * (worker, attempt) like its completion. Figures arriving faster than
 * REPORT_INTERVAL_MS are merged, so a chatty program costs one UPDATE per
 * interval at most; those not written when it closes go with the
 * segment's completion.
 */
export class SegmentReporter {
  private pending: SegmentFigures | undefined;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private lastWrite = 0;
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly workerId: string,
    private readonly segment: SegmentClaim,
    private readonly log: Logger,
  ) {}

  report(figures: SegmentFigures): void {
    if (this.closed) return;
    const earlier = this.pending?.results;
    const results = figures.results === undefined ? earlier : { ...earlier, ...figures.results };
    this.pending = { ...this.pending, ...figures, ...(results === undefined ? {} : { results }) };
    if (this.timer !== undefined) return;
    const wait = Math.max(0, this.lastWrite + REPORT_INTERVAL_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, wait);
  }

  /**
   * Stops reporting; waits for a write under way. Returns the figures not
   * written yet, for the segment's completion to record with its end.
   */
  async close(): Promise<SegmentFigures | undefined> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.writing;
    const unwritten = this.pending;
    this.pending = undefined;
    return unwritten;
  }

  private flush(): void {
    const figures = this.pending;
    this.pending = undefined;
    if (figures === undefined || this.closed) return;
    this.lastWrite = Date.now();
    this.writing = this.writing
      .then(() =>
        reportSegment(this.pool, this.workerId, this.segment, figures),
      )
      .then(
        () => undefined,
        (error: unknown) => this.log.warn({ err: error }, 'could not record the progress of a segment'),
      );
  }
}
