import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from '../../log/logger.js';
import type { SandboxUsers } from '../sandbox/sandbox-users.js';
import {
  type Executor,
  type ProcedureFile,
  type SegmentEnvironment,
  type SegmentOutcome,
  type SegmentTask,
  plainParams,
  StopReason,
} from '../segment-task.js';
import { timedOut } from '../timed-out.js';
import type { FromJavascriptWorker, JavascriptSegmentData } from './javascript-messages.js';
import { JavascriptModuleCache } from './javascript-module-cache.js';
import { JavascriptThreadPool, type PooledThread } from './javascript-pool.js';
import { LineTail } from './line-tail.js';
import { procedureEnvironment, writeProcedureFiles } from './procedure-files.js';

/** The entry module: the first of these among the top-level FILES. */
export const JAVASCRIPT_ENTRIES = ['main.js', 'main.mjs', 'index.js', 'index.mjs'] as const;

export interface JavascriptExecutorOptions {
  readonly logger: Logger;
  /** Between aborting a stopped segment's signal and terminating its thread. */
  readonly killGraceMs?: number;
  /** Each worker thread's old-generation heap; exceeding it fails the segment. */
  readonly memoryLimitMb?: number;
  /** Worker threads kept warm (up to the engine's slots); default: os.availableParallelism(). */
  readonly poolSize?: number;
  /** Segments a thread runs before it is replaced; default 200. */
  readonly recycleAfter?: number;
  /** Where procedure modules are written once per set of FILES: the engine's own `js-modules/` (see EngineDirectory). */
  readonly moduleCacheDirectory: string;
  /** The unprivileged users modules run as when procgate can switch users (root); undefined: procgate's own. */
  readonly sandbox?: SandboxUsers | undefined;
}

type Stop = StopReason | 'timeout';

/**
 * Runs `LANGUAGE javascript` segments on a pool of warm worker threads.
 * The procedure's FILES are written once per distinct set into a module
 * cache (see JavascriptModuleCache) and the entry module (the first of
 * JAVASCRIPT_ENTRIES) is imported from there, so relative imports between
 * FILES work and a thread imports a procedure once for all the segments
 * it runs: module-level state may persist between segments on the same
 * thread. Each segment still gets a working directory of its own
 * (`ctx.workdir`, `work/` in the task's directory) with a copy of the
 * FILES. The default export is awaited with a JavascriptContext: its
 * resolution succeeds the segment, a throw or rejection fails it with the
 * error's message (the stack goes to stderr). A kill, a timeout or the
 * engine stopping aborts `ctx.signal`; a module that has not settled
 * within the grace period has its thread terminated (busy loops included)
 * and replaced.
 *
 * Table data: the engine writes each input's rows in COPY text format and
 * loads each output file after success; the worker decodes and encodes
 * rows (javascript-tables.js), and closes the outputs before it reports
 * the segment done.
 *
 * Results: `ctx.result(key, value)` sets keys; a returned plain object is
 * merged over them, any other JSON value is stored under `return`, a value
 * that is not JSON is ignored. Progress and results are also reported
 * live through `task.report`.
 *
 * The threads run inside the engine's process with its rights, like a
 * command's child; they get the engine's environment without its secrets.
 */
export class JavascriptExecutor implements Executor {
  readonly language = 'javascript';
  readonly dataFormat = 'text';
  private readonly logger: Logger;
  private readonly killGraceMs: number;
  private readonly pool: JavascriptThreadPool;
  private readonly modules: JavascriptModuleCache;
  private jobs = 0;

  constructor(options: JavascriptExecutorOptions) {
    this.logger = options.logger;
    this.killGraceMs = options.killGraceMs ?? 2_000;
    this.pool = new JavascriptThreadPool({
      size: options.poolSize ?? availableParallelism(),
      recycleAfter: options.recycleAfter ?? 200,
      memoryLimitMb: options.memoryLimitMb ?? 256,
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
      env: segmentEnvironment(task.environment),
      inputs: task.inputs,
      outputs: task.outputs,
    };
    return this.runOnThread(task, this.pool.acquire(module.key), segment);
  }

  /** Terminates the pool's threads; a segment still running ends as failed. */
  close(): Promise<void> {
    return this.pool.close();
  }

  private runOnThread(
    task: SegmentTask,
    thread: PooledThread,
    segment: JavascriptSegmentData,
  ): Promise<SegmentOutcome> {
    const { job } = segment;
    const stdout = new LineTail('stdout', task.maxOutputLines);
    const stderr = new LineTail('stderr', task.maxOutputLines);
    const results: Record<string, unknown> = {};
    let returned: { value: unknown } | undefined;
    let failure: string | undefined;
    let stopped: Stop | undefined;
    let settled = false;
    let graceTimer: NodeJS.Timeout | undefined;
    let timeoutTimer: NodeJS.Timeout | undefined;
    return new Promise<SegmentOutcome>((resolve) => {
      const finish = (code?: number): void => {
        if (settled) return;
        settled = true;
        clearTimeout(graceTimer);
        clearTimeout(timeoutTimer);
        task.signal.removeEventListener('abort', onAbort);
        this.pool.release(thread);
        stdout.end();
        stderr.end();
        const end = ending(stopped, failure, returned !== undefined, task, code);
        const output = [...stdout.output(), ...stderr.output()];
        resolve({ ...end, results: segmentResults(results, returned?.value), output });
      };
      const stop = (reason: Stop): void => {
        if (stopped !== undefined || settled) return;
        stopped = reason;
        thread.post({ kind: 'abort', job, reason });
        // A busy loop never reads the abort; terminating the thread stops it anyway, and its exit ends the segment.
        graceTimer = setTimeout(() => void this.pool.retire(thread), this.killGraceMs);
      };
      const onAbort = (): void => stop(stopOf(task.signal));
      const onMessage = (message: FromJavascriptWorker): void => {
        switch (message.kind) {
          case 'output':
            (message.stream === 'stderr' ? stderr : stdout).push(String(message.text));
            break;
          case 'progress':
            task.report?.({ kind: 'progress', fraction: Number(message.fraction) });
            break;
          case 'result': {
            const value = JSON.parse(message.json) as unknown;
            results[String(message.key)] = value;
            task.report?.({ kind: 'result', key: String(message.key), value });
            break;
          }
          case 'done':
            returned = { value: message.json === undefined ? undefined : (JSON.parse(message.json) as unknown) };
            finish();
            break;
          case 'failed':
            failure = String(message.message);
            if (message.stack !== undefined) stderr.push(`${String(message.stack)}\n`);
            finish();
            break;
        }
      };
      thread.attach({
        message: (message) => {
          // Late messages of an earlier segment, and anything the module posts on the port itself, stay out.
          if (message.job !== job) return;
          try {
            onMessage(message);
          } catch (error) {
            this.logger.debug({ err: error, run_id: task.runId }, 'ignored a malformed message from a javascript thread');
          }
        },
        error: (error) => {
          failure ??= error.message;
          if (error.stack !== undefined) stderr.push(`${error.stack}\n`);
        },
        exit: (code) => finish(code),
      });
      task.signal.addEventListener('abort', onAbort, { once: true });
      if (task.timeoutMs !== undefined) timeoutTimer = setTimeout(() => stop('timeout'), task.timeoutMs);
      thread.post({ kind: 'run', segment });
    });
  }
}

/** The segment's own copy of the FILES, for the module to work in. */
async function makeWorkdir(workdir: string, files: readonly ProcedureFile[]): Promise<void> {
  await mkdir(workdir);
  await writeProcedureFiles(workdir, files);
}

/** The entry module among the FILES, by JAVASCRIPT_ENTRIES' order. */
function entryOf(files: readonly ProcedureFile[]): string | undefined {
  const paths = new Set(files.map((file) => path.posix.normalize(file.path)));
  return JAVASCRIPT_ENTRIES.find((name) => paths.has(name));
}

function stopOf(signal: AbortSignal): StopReason {
  return signal.reason === StopReason.killed ? StopReason.killed : StopReason.engineStopped;
}

/**
 * `ctx.env`: the engine's environment without secrets, with the
 * procedure's variables and PATH prefix. A pooled thread's own
 * process.env cannot follow the segment, so the module gets this instead.
 */
function segmentEnvironment(environment: SegmentEnvironment | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(procedureEnvironment())) if (value !== undefined) env[name] = value;
  Object.assign(env, environment?.variables);
  const prefix = environment?.pathPrefix ?? [];
  if (prefix.length > 0) env['PATH'] = [...prefix, ...(env['PATH'] === undefined ? [] : [env['PATH']])].join(path.delimiter);
  return env;
}

function segmentResults(keyed: Record<string, unknown>, value: unknown): unknown {
  const results = { ...keyed };
  if (value !== undefined) {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) Object.assign(results, value);
    else results['return'] = value;
  }
  return Object.keys(results).length === 0 ? null : results;
}

function ending(
  stopped: Stop | undefined,
  failure: string | undefined,
  finished: boolean,
  task: SegmentTask,
  code?: number,
): Omit<SegmentOutcome, 'results' | 'output'> {
  if (stopped === StopReason.killed) return { state: 'killed', exitCode: null, message: 'killed' };
  if (stopped === StopReason.engineStopped) return { state: 'failed', exitCode: null, message: 'engine stopped' };
  if (stopped === 'timeout') return timedOut(task.timeoutMs);
  if (failure !== undefined) return { state: 'failed', exitCode: null, message: failure };
  if (finished) return { state: 'succeeded', exitCode: null, message: null };
  return {
    state: 'failed',
    exitCode: null,
    message: `the worker thread exited (code ${String(code)}) before the module's default export settled`,
  };
}
