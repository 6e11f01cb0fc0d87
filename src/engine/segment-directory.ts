import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from '../log/logger.js';

/**
 * A segment's own directory in the system's temporary directory: the
 * executor's working directory and the table files go inside. It is
 * removed when the segment ends, or kept for a look at what a segment that
 * did not succeed left (--keep-failed-workdirs).
 */
export class SegmentDirectory {
  private constructor(readonly path: string) {}

  static async make(): Promise<SegmentDirectory> {
    return new SegmentDirectory(await mkdtemp(path.join(tmpdir(), 'procgate-segment-')));
  }

  /** Removes the directory; `keep`: leaves it, and says where it is. A failure to remove is logged. */
  async release(keep: boolean, log: Logger): Promise<void> {
    if (keep) {
      log.info({ dir: this.path }, 'kept the directory of a segment that did not succeed');
      return;
    }
    await rm(this.path, { recursive: true, force: true }).catch((error: unknown) => {
      log.warn({ err: error, dir: this.path }, 'could not remove a segment directory');
    });
  }
}
