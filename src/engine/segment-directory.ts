import { mkdtempSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log/logger.js';

/**
 * A segment's own directory, in its engine's `segments/` folder (see
 * EngineDirectory): the executor's working directory and the table files
 * go inside. It is removed when the segment ends, or, for a look at what
 * a segment that did not succeed left (--keep-failed-workdirs), moved to
 * the run directory's `kept/` folder, which outlives the engine.
 */
export class SegmentDirectory {
  private constructor(readonly path: string) {}

  /** Made synchronously: one quick call, cheaper than its trip through libuv's thread pool. */
  static async make(segments: string): Promise<SegmentDirectory> {
    return new SegmentDirectory(mkdtempSync(path.join(segments, 'segment-')));
  }

  /** Removes the directory, or moves it into `keep` and says where; a failure is logged. */
  async release(keep: string | undefined, log: Logger): Promise<void> {
    if (keep !== undefined) {
      const kept = path.join(keep, path.basename(this.path));
      try {
        await mkdir(keep, { recursive: true, mode: 0o700 });
        await rename(this.path, kept);
        log.info({ dir: kept }, 'kept the directory of a segment that did not succeed');
        return;
      } catch (error) {
        log.warn({ err: error, dir: this.path }, 'could not keep the directory of a segment');
      }
    }
    await rm(this.path, { recursive: true, force: true }).catch((error: unknown) => {
      log.warn({ err: error, dir: this.path }, 'could not remove a segment directory');
    });
  }
}
