import fs from 'node:fs/promises';
import path from 'node:path';
import { isProcessAlive } from './process-utils.js';

/** Raised when another live procgate holds the data directory. */
export class DataDirBusyError extends Error {
  constructor(dataDir: string, pid: number) {
    super(
      `data directory ${dataDir} is in use by another procgate (pid ${pid}); stop it first or use another --data-dir`,
    );
    this.name = 'DataDirBusyError';
  }
}

/**
 * An exclusive claim on a data directory: a pid file created with O_EXCL.
 * A file left by a process that no longer exists is taken over.
 */
export class DataDirLock {
  private constructor(private readonly file: string) {}

  static async acquire(dataDir: string): Promise<DataDirLock> {
    const file = path.join(dataDir, 'procgate.pid');
    for (let attempt = 0; attempt < 3; attempt += 1) {
      try {
        await fs.writeFile(file, `${process.pid}\n`, { flag: 'wx' });
        return new DataDirLock(file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const owner = Number.parseInt(await fs.readFile(file, 'utf8').catch(() => ''), 10);
      if (Number.isInteger(owner) && owner !== process.pid && isProcessAlive(owner)) {
        throw new DataDirBusyError(dataDir, owner);
      }
      await fs.rm(file, { force: true });
    }
    throw new Error(`could not lock data directory ${dataDir}`);
  }

  async release(): Promise<void> {
    await fs.rm(this.file, { force: true });
  }
}
