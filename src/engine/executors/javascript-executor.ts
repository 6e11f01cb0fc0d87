import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../log/logger.js';
import {
  type Executor,
  type ProcedureFile,
  type SegmentOutcome,
  type SegmentTask,
  StopReason,
} from '../segment-task.js';
import type { FromJavascriptWorker, JavascriptWorkerData, ToJavascriptWorker } from './javascript-messages.js';
import { LineTail } from './line-tail.js';
import { procedureEnvironment, writeProcedureFiles } from './procedure-files.js';

/** The entry module: the first of these among the top-level FILES. */
export const JAVASCRIPT_ENTRIES = ['main.js', 'main.mjs', 'index.js', 'index.mjs'] as const;

/** Plain JavaScript, next to this file in `src/` and in `dist/` alike. */
const WORKER_URL = new URL('./javascript-worker.js', import.meta.url);

export interface JavascriptExecutorOptions {
  readonly logger: Logger;
  /** Between aborting a stopped segment's signal and terminating its thread. */
  readonly killGraceMs?: number;
  /** The worker's old-generation heap; exceeding it fails the segment. */
  readonly memoryLimitMb?: number;
}

type Stop = StopReason | 'timeout';

/**
 * Runs `LANGUAGE javascript` segments, each in a worker thread of its own
 * (a fresh module graph per segment, and a thread that can always be
 * terminated, busy loops included). The procedure's FILES are written to a
 * fresh working directory, marked `"type": "module"` by a package.json
 * just above it, and the entry module (the first of JAVASCRIPT_ENTRIES) is
 * imported from there, so relative imports between FILES work. Its default
 * export is awaited with a JavascriptContext: its resolution succeeds the
 * segment, a throw or rejection fails it with the error's message (the
 * stack goes to stderr). A kill, a timeout or the engine stopping aborts
 * `ctx.signal`, and the thread is terminated after the grace period.
 *
 * Results: `ctx.result(key, value)` sets keys; a returned plain object is
 * merged over them, any other JSON value is stored under `return`, a value
 * that is not JSON is ignored.
 *
 * The thread runs inside the engine's process with its rights, like a
 * command's child; it gets the engine's environment without its secrets.
 */
export class JavascriptExecutor implements Executor {
  readonly language = 'javascript';
  readonly dataFormat = 'text';
  private readonly logger: Logger;
  private readonly killGraceMs: number;
  private readonly memoryLimitMb: number;

  constructor(options: JavascriptExecutorOptions) {
    this.logger = options.logger;
    this.killGraceMs = options.killGraceMs ?? 2_000;
    this.memoryLimitMb = options.memoryLimitMb ?? 256;
  }

  async run(task: SegmentTask): Promise<SegmentOutcome> {
    const entry = entryOf(task.files);
    if (entry === undefined) {
      const message = `no entry module: FILES must hold one of ${JAVASCRIPT_ENTRIES.join(', ')}`;
      return { state: 'failed', exitCode: null, message, results: null, output: [] };
    }
    if (task.signal.aborted) {
      return { ...ending(stopOf(task.signal), undefined, false, task), results: null, output: [] };
    }
    const base = task.directory;
    {
      const workdir = path.join(base, 'work');
      await mkdir(workdir);
      // Outside workdir, so the FILES are all it holds (and one of them may be a package.json of its own).
      await writeFile(path.join(base, 'package.json'), '{ "type": "module" }\n');
      await writeProcedureFiles(workdir, task.files);
      return await this.runWorker(task, workdir, entry);
    }
  }

  private runWorker(task: SegmentTask, workdir: string, entry: string): Promise<SegmentOutcome> {
    const stdout = new LineTail('stdout', task.maxOutputLines);
    const stderr = new LineTail('stderr', task.maxOutputLines);
    const results: Record<string, unknown> = {};
    let returned: { value: unknown } | undefined;
    let failure: string | undefined;
    let progress = 0;
    const workerData: JavascriptWorkerData = {
      entryUrl: pathToFileURL(path.join(workdir, entry)).href,
      entryName: entry,
      workdir,
      runId: task.runId,
      segment: task.segment,
      segmentCount: task.segmentCount,
      params: plainParams(task.params),
    };
    return new Promise<SegmentOutcome>((resolve) => {
      let stopped: Stop | undefined;
      let exited = false;
      let terminateTimer: NodeJS.Timeout | undefined;
      let timeoutTimer: NodeJS.Timeout | undefined;
      const worker = new Worker(WORKER_URL, {
        workerData,
        env: procedureEnvironment(),
        stdout: true,
        stderr: true,
        resourceLimits: { maxOldGenerationSizeMb: this.memoryLimitMb },
      });
      const stop = (reason: Stop): void => {
        if (stopped !== undefined || exited) return;
        stopped = reason;
        const abort: ToJavascriptWorker = { kind: 'abort', reason };
        worker.postMessage(abort);
        // A busy loop never reads the abort; terminate() stops it anyway.
        terminateTimer = setTimeout(() => void worker.terminate(), this.killGraceMs);
      };
      const onAbort = (): void => stop(stopOf(task.signal));
      task.signal.addEventListener('abort', onAbort, { once: true });
      if (task.timeoutMs !== undefined) timeoutTimer = setTimeout(() => stop('timeout'), task.timeoutMs);
      worker.stdout.setEncoding('utf8').on('data', (chunk: string) => stdout.push(chunk));
      worker.stderr.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
      worker.on('message', (message: FromJavascriptWorker) => {
        // The module can post on the port itself: a malformed message must not reach the engine.
        try {
          switch (message.kind) {
            case 'log':
              (message.stream === 'stderr' ? stderr : stdout).push(`${String(message.text)}\n`);
              break;
            case 'progress':
              progress = Number(message.fraction);
              break;
            case 'result':
              results[String(message.key)] = JSON.parse(message.json) as unknown;
              break;
            case 'done':
              returned = { value: message.json === undefined ? undefined : (JSON.parse(message.json) as unknown) };
              break;
            case 'failed':
              failure = String(message.message);
              if (message.stack !== undefined) stderr.push(`${String(message.stack)}\n`);
              break;
          }
        } catch (error) {
          this.logger.debug({ err: error, run_id: task.runId }, 'ignored a malformed message from a javascript worker');
        }
      });
      worker.on('error', (error) => {
        // An exception nothing caught (in a timer, say) or the memory limit: the thread is ending.
        failure ??= error.message;
        if (error.stack !== undefined) stderr.push(`${error.stack}\n`);
      });
      worker.once('exit', (code) => {
        exited = true;
        clearTimeout(terminateTimer);
        clearTimeout(timeoutTimer);
        task.signal.removeEventListener('abort', onAbort);
        stdout.end();
        stderr.end();
        this.logger.debug({ run_id: task.runId, segment: task.segment, progress, code }, 'javascript worker exited');
        const end = ending(stopped, failure, returned !== undefined, task, code);
        const output = [...stdout.output(), ...stderr.output()];
        resolve({ ...end, results: segmentResults(results, returned?.value), output });
      });
    });
  }
}

/** The entry module among the FILES, by JAVASCRIPT_ENTRIES' order. */
function entryOf(files: readonly ProcedureFile[]): string | undefined {
  const paths = new Set(files.map((file) => path.posix.normalize(file.path)));
  return JAVASCRIPT_ENTRIES.find((name) => paths.has(name));
}

function stopOf(signal: AbortSignal): StopReason {
  return signal.reason === StopReason.killed ? StopReason.killed : StopReason.engineStopped;
}

/** The stored `{ name: { value, type } }` as `{ name: value }`. */
function plainParams(params: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const plain: Record<string, unknown> = {};
  for (const [name, param] of Object.entries(params)) {
    plain[name] = typeof param === 'object' && param !== null && 'value' in param ? param.value : param;
  }
  return plain;
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
  if (stopped === 'timeout') {
    return { state: 'failed', exitCode: null, message: `timed out after ${String((task.timeoutMs ?? 0) / 1000)} s` };
  }
  if (failure !== undefined) return { state: 'failed', exitCode: null, message: failure };
  if (finished) return { state: 'succeeded', exitCode: null, message: null };
  return {
    state: 'failed',
    exitCode: null,
    message: `the worker thread exited (code ${String(code)}) before the module's default export settled`,
  };
}
