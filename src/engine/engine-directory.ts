import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from '../log/logger.js';
import { isProcessAlive, processStartTime } from '../postgres/process-utils.js';

/** Where engines keep run-time files when not told: one folder per user in the system's temporary directory. */
export function defaultRunDirectory(): string {
  return path.join(tmpdir(), `procgate-${String(process.getuid?.() ?? 'user')}`);
}

/** An engine's folder: `engine.<host>.<pid>.<start time of the pid>.<random>`. */
const ENGINE_FOLDER = /^engine\.(.+)\.(\d+)\.(\d+)\.([0-9a-f]+)$/;
/** Dots separate the name's fields, so a host name keeps none. */
const HOST = hostname().replace(/[^A-Za-z0-9-]/g, '_');

/**
 * An engine's run-time files, in a folder of its own under the run
 * directory (`--run-dir`: the data dir's `run/` under an embedded
 * PostgreSQL, else `<tmpdir>/procgate-<uid>`), never shared with another
 * engine: `segments/` holds each running segment's directory (its
 * program's working directory and its table files, users' rows among
 * them) and `js-modules/` the javascript module cache. The folder goes
 * when the engine stops.
 *
 * An engine killed (SIGKILL, a crash, a lost power) cannot clean up, so
 * each engine, when it starts, removes the folders of dead engines: its
 * name holds the owner's host, pid and the pid's start time, so a live
 * engine's folder is never taken, even when several engines share the
 * run directory or a dead engine's pid was given to another process. The
 * directories of failed segments kept for a look (--keep-failed-workdirs)
 * are moved to `kept/`, which only the user cleans.
 */
export class EngineDirectory {
  private constructor(
    /** This engine's folder. */
    readonly path: string,
    /** Where kept segment directories go. */
    readonly kept: string,
  ) {}

  get segments(): string {
    return path.join(this.path, 'segments');
  }

  get modules(): string {
    return path.join(this.path, 'js-modules');
  }

  /** The folder this process's next engine gets under `runDirectory`: known before it is made. */
  static planned(runDirectory: string): string {
    return path.join(
      path.resolve(runDirectory),
      `engine.${HOST}.${String(process.pid)}.${String(processStartTime(process.pid) ?? 0)}.${randomBytes(4).toString('hex')}`,
    );
  }

  /**
   * Makes the engine's folder `folder` (from planned()), after removing
   * what dead engines left beside it. `sandboxed`: users' programs run as
   * other uids (SandboxUsers), which must reach their segment's directory
   * and the module cache: the run directory, the engine's folder,
   * `segments/` and `js-modules/` are then traversable by anyone (711) but
   * listable by no one else, and every directory above must be traversable.
   */
  static async open(folder: string, log: Logger, sandboxed = false): Promise<EngineDirectory> {
    const runDirectory = path.dirname(folder);
    await ensurePrivateDirectory(runDirectory, sandboxed);
    const removed = await removeDeadEngines(runDirectory, log);
    if (removed > 0) log.info({ dir: runDirectory, engines: removed }, 'removed the run-time files of stopped engines');
    const directory = new EngineDirectory(folder, path.join(runDirectory, 'kept'));
    await mkdir(directory.segments, { recursive: true, mode: 0o700 });
    if (sandboxed) {
      await mkdir(directory.modules, { mode: 0o711 });
      for (const made of [folder, directory.segments, directory.modules]) await chmod(made, 0o711);
      await checkTraversable(runDirectory);
    }
    return directory;
  }

  /** Removes the engine's folder; a failure is logged. */
  async close(log: Logger): Promise<void> {
    await rm(this.path, { recursive: true, force: true }).catch((error: unknown) => {
      log.warn({ err: error, dir: this.path }, 'could not remove the engine\'s run-time files');
    });
  }
}

async function removeDeadEngines(runDirectory: string, log: Logger): Promise<number> {
  let removed = 0;
  for (const name of await readdir(runDirectory)) {
    const match = ENGINE_FOLDER.exec(name);
    if (match === null || match[1] !== HOST) continue;
    if (isEngineAlive(Number(match[2]), Number(match[3]))) continue;
    try {
      await rm(path.join(runDirectory, name), { recursive: true, force: true });
      removed += 1;
    } catch (error) {
      log.warn({ err: error, dir: path.join(runDirectory, name) }, 'could not remove a stopped engine\'s run-time files');
    }
  }
  return removed;
}

/** Alive, and the same process: a pid reused since (a container's restart) has another start time. */
function isEngineAlive(pid: number, startTime: number): boolean {
  const now = processStartTime(pid);
  if (now !== undefined) return startTime === 0 || now === startTime;
  return process.platform === 'linux' ? false : isProcessAlive(pid);
}

/**
 * Makes `directory` (mode 700; 711 when `traversable`) and checks that
 * this user owns it and that no one else can write in it: whoever could
 * replace an engine's folder would choose the code it imports. The
 * engines' folders themselves are made 700 (711 for sandboxed programs,
 * whose own directories inside are closed to other uids), as they hold
 * users' rows.
 */
async function ensurePrivateDirectory(directory: string, traversable: boolean): Promise<void> {
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const info = await stat(directory);
  const uid = process.getuid?.();
  if ((uid !== undefined && info.uid !== uid) || (info.mode & 0o022) !== 0) {
    throw new Error(`the run directory ${directory} must belong to this user and be writable by no one else`);
  }
  if (traversable && (info.mode & 0o777) !== 0o711) await chmod(directory, 0o711);
}

/** Sandboxed programs (other uids) reach `directory` only if every directory above lets others through. */
async function checkTraversable(directory: string): Promise<void> {
  for (let above = path.dirname(directory); ; above = path.dirname(above)) {
    if (((await stat(above)).mode & 0o001) === 0) {
      throw new Error(
        `users' programs run as other uids and cannot reach the run directory ${directory}: ${above} is not searchable by others (chmod o+x it, or choose another --run-dir)`,
      );
    }
    if (path.dirname(above) === above) return;
  }
}
