import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ProcedureFile } from '../segment-task.js';
import { writeProcedureFiles } from './procedure-files.js';

/** Where a procedure's files are imported from. */
export interface CachedModule {
  /** Names the set of FILES: equal files, equal key. */
  readonly key: string;
  /** The directory holding the FILES. */
  readonly directory: string;
}

/**
 * The procedures' modules on disk, written once per distinct set of FILES
 * under `<root>/<key>/files/`, with `<root>/<key>/package.json` marking
 * them as ES modules (outside `files/`, as the FILES may hold a
 * package.json of their own). A process imports each entry once by its URL
 * here, and the URL changes whenever the FILES do, so a changed procedure
 * is imported afresh.
 *
 * The root is the engine's own (see EngineDirectory), gone when it stops.
 * An entry is made in a staging directory and renamed into place, so a
 * `<root>/<key>` that exists is complete, whichever segment wrote it. The
 * root must belong to this user and be writable by no one else: whoever
 * can write there chooses the code the engine runs.
 *
 * The javascript processes may run as other uids (SandboxUsers), so the
 * entries are readable by all (directories 755, files 644) under a root
 * that no one else can list (711): reaching an entry takes its key, a
 * hash of the FILES, so only who knows the code can read it.
 */
export class JavascriptModuleCache {
  private rootChecked: Promise<void> | undefined;

  constructor(private readonly root: string) {}

  /** The cached directory of `files`, written first if it is not there (or was cleaned away). */
  async moduleOf(files: readonly ProcedureFile[]): Promise<CachedModule> {
    await this.checkRoot();
    const key = filesKey(files);
    const entry = path.join(this.root, key);
    // Synchronously: a stat through libuv's thread pool costs several times the call, on every segment.
    if (!existsSync(entry)) await this.write(entry, files);
    return { key, directory: path.join(entry, 'files') };
  }

  /** Once per cache (again after a failure): whoever owns the root could have put any code in it. */
  private async checkRoot(): Promise<void> {
    this.rootChecked ??= ensurePrivateDirectory(this.root).catch((error: unknown) => {
      this.rootChecked = undefined;
      throw error;
    });
    await this.rootChecked;
  }

  private async write(entry: string, files: readonly ProcedureFile[]): Promise<void> {
    // Again, should a cleaner of temporary files have removed it since.
    await mkdir(this.root, { recursive: true, mode: 0o711 });
    const staging = await mkdtemp(`${entry}.staging-`);
    try {
      // Readable by the uids modules run as (the root is not listable: an entry is found by its key).
      await chmod(staging, 0o755);
      await writeFile(path.join(staging, 'package.json'), '{ "type": "module" }\n');
      const directory = path.join(staging, 'files');
      await mkdir(directory);
      await writeProcedureFiles(directory, files);
      await readableByAll(staging);
      await rename(staging, entry);
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      // Another writer put the same files in place first.
      if (!(await exists(entry))) throw error;
    }
  }
}

/** A hash of the files' paths and contents, each length-prefixed so no two sets share one. */
function filesKey(files: readonly ProcedureFile[]): string {
  const hash = createHash('sha256');
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const file of sorted) {
    const name = Buffer.from(path.posix.normalize(file.path));
    hash.update(`${String(name.length)}:`).update(name).update(`${String(file.content.length)}:`).update(file.content);
  }
  return hash.digest('hex').slice(0, 32);
}

/** Makes `directory` (mode 711) and checks that this user owns it and that no one else can write in it. */
async function ensurePrivateDirectory(directory: string): Promise<void> {
  await mkdir(directory, { recursive: true, mode: 0o711 });
  const info = await stat(directory);
  const uid = process.getuid?.();
  if ((uid !== undefined && info.uid !== uid) || (info.mode & 0o022) !== 0) {
    throw new Error(`the module cache ${directory} must belong to this user and be writable by no one else`);
  }
  // mkdir's mode is masked by the umask; others need to pass through, not to list.
  if ((info.mode & 0o777) !== 0o711) await chmod(directory, 0o711);
}

/** Directories 755, files 644 (755 when executable), whatever the umask made them; links are left. */
async function readableByAll(entry: string): Promise<void> {
  const info = await lstat(entry);
  if (info.isSymbolicLink()) return;
  if (info.isDirectory()) {
    await chmod(entry, 0o755);
    for (const name of await readdir(entry)) await readableByAll(path.join(entry, name));
  } else {
    await chmod(entry, info.mode & 0o100 ? 0o755 : 0o644);
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}
