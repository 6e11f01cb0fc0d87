import { mkdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from '../../log/logger.js';
import { handOverDirectory } from '../sandbox/hand-over.js';
import type { SandboxUsers } from '../sandbox/sandbox-users.js';
import {
  type DataFormat,
  type Executor,
  type ProcedureFile,
  type SegmentOutcome,
  type SegmentTask,
  plainParams,
  type TableColumn,
} from '../segment-task.js';
import { binaryColumns } from './javascript-binary-values.js';
import type { JavascriptSegmentData } from './javascript-messages.js';
import { JavascriptModuleCache } from './javascript-module-cache.js';
import { defaultSpares, JavascriptProcessPool } from './javascript-pool.js';
import { ending, runOnProcess, stopOf } from './javascript-segment.js';
import { writeProcedureFiles, writeProcedureFilesSync } from './procedure-files.js';

/**
 * The most processes (so sandbox uids) a pool of `poolSize` holds at once
 * while no more than `poolSize` segments run at once: one bound per
 * segment slot, and the spares. An engine's uids must cover these
 * besides its commands' programs.
 */
export function javascriptProcesses(poolSize: number, spares = defaultSpares(poolSize)): number {
  return poolSize + spares;
}

/** The entry module: the first of these among the top-level FILES. */
export const JAVASCRIPT_ENTRIES = ['main.js', 'main.mjs', 'index.js', 'index.mjs'] as const;

export interface JavascriptExecutorOptions {
  readonly logger: Logger;
  /** Between aborting a stopped segment's signal and killing its process. */
  readonly killGraceMs?: number;
  /** Each process's old-generation heap (--max-old-space-size); exceeding it fails the segment. */
  readonly memoryLimitMb?: number;
  /** Processes kept bound to callers' procedures (the engine's slots); default: os.availableParallelism(). */
  readonly poolSize?: number;
  /** Warm processes kept unbound besides; default: defaultSpares(poolSize), 2 (1 for a pool of 1). */
  readonly spares?: number;
  /**
   * Segments a process runs before it is replaced, which bounds what its
   * module keeps; default 10 000. (A process imports one procedure only,
   * and starting one costs ten times a thread's start.)
   */
  readonly recycleAfter?: number;
  /** Where procedure modules are written once per set of FILES: the engine's own `js-modules/` (see EngineDirectory). */
  readonly moduleCacheDirectory: string;
  /**
   * The unprivileged uids the processes run as, each holding one for its
   * life (see javascriptProcesses); undefined: they run as the engine's
   * own user.
   */
  readonly sandbox?: SandboxUsers | undefined;
}

/**
 * Runs `LANGUAGE javascript` segments on a pool of warm Node child
 * processes (see JavascriptProcessPool), each serving one caller's
 * procedure. The procedure's FILES are written once per distinct set into
 * a module cache (see JavascriptModuleCache) and the entry module (the
 * first of JAVASCRIPT_ENTRIES) is imported from there, so relative imports
 * between FILES work and a process imports its procedure once for all the
 * segments it runs: module-level state may persist between segments on
 * the same process. Each segment still gets a working directory of its
 * own (`ctx.workdir`, `work/` in the task's directory, the process's cwd
 * meanwhile) with a copy of the FILES. The default export is awaited with
 * a JavascriptContext: its resolution succeeds the segment, a throw or
 * rejection fails it with the error's message (the stack goes to stderr).
 *
 * Table data: the engine writes each input's rows in COPY text format and
 * loads each output file after success; the process decodes and encodes
 * rows (javascript-tables.js), and closes the outputs before it reports
 * the segment done.
 *
 * Results: `ctx.result(key, value)` sets keys; a returned plain object is
 * merged over them, any other JSON value is stored under `return`, a value
 * that is not JSON is ignored. Progress and results are also reported
 * live through `task.report`.
 *
 * The processes get the engine's environment without its secrets, and,
 * given `sandbox`, run as its uids: the segment's directory is handed
 * over to the process's uid before the segment runs (see
 * handOverDirectory), and the module cache is readable by all. `ctx.db`
 * connects with the segment's own login (`task.database`), asked for at
 * its first use.
 */
export class JavascriptExecutor implements Executor {
  readonly language = 'javascript';
  readonly dataFormat = 'text';

  /** Binary COPY when every column's type has a binary form in the child (javascript-binary-values.js); text otherwise. */
  fileFormat(columns: readonly TableColumn[]): DataFormat {
    return binaryColumns(columns) ? 'binary' : 'text';
  }
  private readonly logger: Logger;
  private readonly killGraceMs: number;
  private readonly memoryLimitMb: number;
  private readonly pool: JavascriptProcessPool;
  private readonly modules: JavascriptModuleCache;
  private jobs = 0;

  constructor(options: JavascriptExecutorOptions) {
    this.logger = options.logger;
    this.killGraceMs = options.killGraceMs ?? 2_000;
    this.memoryLimitMb = options.memoryLimitMb ?? 256;
    const size = options.poolSize ?? availableParallelism();
    this.pool = new JavascriptProcessPool({
      size,
      spares: options.spares ?? defaultSpares(size),
      recycleAfter: options.recycleAfter ?? 10_000,
      memoryLimitMb: this.memoryLimitMb,
      sandbox: options.sandbox,
      logger: options.logger,
    });
    this.modules = new JavascriptModuleCache(options.moduleCacheDirectory);
  }

  async run(task: SegmentTask): Promise<SegmentOutcome> {
    const entry = entryOf(task.files);
    if (entry === undefined) {
      const message = `no entry module: FILES must hold one of ${JAVASCRIPT_ENTRIES.join(', ')}`;
      return { state: 'failed', exitCode: null, message, results: null, output: [] };
    }
    const workdir = path.join(task.directory, 'work');
    const [module] = await Promise.all([this.modules.moduleOf(task.files), makeWorkdir(workdir, task.files)]);
    if (task.signal.aborted) {
      return { ...ending(stopOf(task.signal), undefined, false, task), results: null, output: [] };
    }
    const child = await this.pool.acquire(task.caller ?? '', module.key);
    const variables: Record<string, string> = { ...task.environment?.variables };
    try {
      if (child.user !== undefined) {
        await handOverDirectory(task.directory, child.user, task.outputs.map((output) => output.path));
        // The uid has no home, and the machine's shared /tmp is no place for a run's files.
        variables['HOME'] = workdir;
        variables['TMPDIR'] = path.join(task.directory, 'tmp');
      }
    } catch (error) {
      this.pool.release(child);
      throw error;
    }
    this.jobs += 1;
    const segment: JavascriptSegmentData = {
      job: this.jobs,
      entryUrl: pathToFileURL(path.join(module.directory, entry)).href,
      entryName: entry,
      workdir,
      runId: task.runId,
      segment: task.segment,
      segmentCount: task.segmentCount,
      params: plainParams(task.params),
      variables,
      pathPrefix: task.environment?.pathPrefix ?? [],
      inputs: task.inputs,
      outputs: task.outputs,
    };
    return runOnProcess(task, child, segment, {
      pool: this.pool,
      killGraceMs: this.killGraceMs,
      memoryLimitMb: this.memoryLimitMb,
      logger: this.logger,
    });
  }

  /** Kills the pool's processes; a segment still running ends as failed. */
  close(): Promise<void> {
    return this.pool.close();
  }
}

/** FILES up to this size in all are copied synchronously: the usual few small modules, in a fraction of the time. */
const SYNC_COPY_BYTES = 256 * 1024;

/** The segment's own copy of the FILES, for the module to work in. */
async function makeWorkdir(workdir: string, files: readonly ProcedureFile[]): Promise<void> {
  if (files.reduce((size, file) => size + file.content.length, 0) <= SYNC_COPY_BYTES) {
    mkdirSync(workdir);
    writeProcedureFilesSync(workdir, files);
    return;
  }
  await mkdir(workdir);
  await writeProcedureFiles(workdir, files);
}

/** The entry module among the FILES, by JAVASCRIPT_ENTRIES' order. */
function entryOf(files: readonly ProcedureFile[]): string | undefined {
  const paths = new Set(files.map((file) => path.posix.normalize(file.path)));
  return JAVASCRIPT_ENTRIES.find((name) => paths.has(name));
}
