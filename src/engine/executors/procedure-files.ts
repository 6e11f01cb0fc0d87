import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ProcedureFile } from '../segment-task.js';

/**
 * Writes the procedure's files under `workdir`; paths were checked
 * relative at CREATE, and are checked again here.
 */
export async function writeProcedureFiles(workdir: string, files: readonly ProcedureFile[]): Promise<void> {
  for (const file of files) {
    const target = targetOf(workdir, file);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, file.content);
    if (isScript(file)) await chmod(target, 0o755);
  }
}

/**
 * writeProcedureFiles without the trips through libuv's thread pool, each
 * costing more than the call it makes: for a few small files.
 */
export function writeProcedureFilesSync(workdir: string, files: readonly ProcedureFile[]): void {
  for (const file of files) {
    const target = targetOf(workdir, file);
    if (path.dirname(target) !== workdir) mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, file.content);
    if (isScript(file)) chmodSync(target, 0o755);
  }
}

function targetOf(workdir: string, file: ProcedureFile): string {
  const target = path.resolve(workdir, file.path);
  if (!target.startsWith(workdir + path.sep)) throw new Error(`file path "${file.path}" leaves the working directory`);
  return target;
}

/** A script with a shebang can be the COMMAND itself ('./run.sh'). */
function isScript(file: ProcedureFile): boolean {
  return file.content.subarray(0, 2).toString('latin1') === '#!';
}

/**
 * The environment a procedure's code gets: the engine's own without its
 * secrets (PROCGATE_* and libpq's PG* variables).
 */
export function procedureEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('PROCGATE_') || /^PG[A-Z]/.test(name)) continue;
    env[name] = value;
  }
  return env;
}
