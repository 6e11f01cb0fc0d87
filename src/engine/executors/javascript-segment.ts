import type { Logger } from '../../log/logger.js';
import { type SegmentOutcome, type SegmentTask, StopReason } from '../segment-task.js';
import { timedOut } from '../timed-out.js';
import type { FromJavascriptChild, JavascriptSegmentData, ToJavascriptChild } from './javascript-messages.js';
import type { JavascriptProcessPool } from './javascript-pool.js';
import type { JavascriptProcess } from './javascript-process.js';
import { LineTail } from './line-tail.js';

/** What V8 writes to stderr when a heap reaches --max-old-space-size. */
const OUT_OF_MEMORY = /JavaScript heap out of memory/;

export interface JavascriptSegmentOptions {
  readonly pool: JavascriptProcessPool;
  /** Between aborting a stopped segment's signal and killing its process. */
  readonly killGraceMs: number;
  readonly memoryLimitMb: number;
  readonly logger: Logger;
}

type Stop = StopReason | 'timeout';

/** How the process of a segment ended before the segment did. */
interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * Runs one segment on a process of the pool and gives it back: the
 * segment's messages make its output, progress, results and end; a kill,
 * a timeout or the engine stopping aborts `ctx.signal`, and a module that
 * has not settled within the grace period has its process killed (busy
 * loops included). A process that exits while its segment runs (out of
 * memory, a crash, an exception nothing caught) fails the segment, with
 * what it wrote on its own stderr among the segment's lines.
 */
export function runOnProcess(
  task: SegmentTask,
  process: JavascriptProcess,
  segment: JavascriptSegmentData,
  options: JavascriptSegmentOptions,
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
  const send = (message: ToJavascriptChild): void => {
    if (!settled) process.send(message);
  };
  return new Promise<SegmentOutcome>((resolve) => {
    const finish = (exit?: Exit): void => {
      if (settled) return;
      settled = true;
      clearTimeout(graceTimer);
      clearTimeout(timeoutTimer);
      task.signal.removeEventListener('abort', onAbort);
      options.pool.release(process);
      stdout.end();
      stderr.end();
      const end = ending(stopped, failure, returned !== undefined, task, exit, stderr, options.memoryLimitMb);
      const output = [...stdout.output(), ...stderr.output()];
      resolve({ ...end, results: segmentResults(results, returned?.value), output });
    };
    const stop = (reason: Stop): void => {
      if (stopped !== undefined || settled) return;
      stopped = reason;
      send({ kind: 'abort', job, reason });
      // A busy loop never reads the abort; killing the process stops it anyway, and its exit ends the segment.
      graceTimer = setTimeout(() => void options.pool.retire(process), options.killGraceMs);
    };
    const onAbort = (): void => stop(stopOf(task.signal));
    const login = (): void => {
      const database = task.database;
      if (database === undefined) {
        send({ kind: 'login', job, error: 'this engine gives segments no database login' });
        return;
      }
      database.login().then(
        ({ host, port, database: name, user, password, environment }) =>
          send({ kind: 'login', job, login: { host, port, database: name, user, password, environment } }),
        (error: unknown) => send({ kind: 'login', job, error: `no database login: ${(error as Error).message}` }),
      );
    };
    const onMessage = (message: FromJavascriptChild): void => {
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
        case 'login':
          login();
          break;
        case 'done':
          returned = { value: message.json === undefined ? undefined : (JSON.parse(message.json) as unknown) };
          finish();
          break;
        case 'failed':
        case 'fatal':
          failure ??= String(message.message);
          if (message.stack !== undefined) stderr.push(`${String(message.stack)}\n`);
          if (message.kind === 'failed') finish();
          break;
      }
    };
    process.attach({
      message: (message) => {
        // Late messages of an earlier segment, and console output of no segment's code, stay out.
        if (message.kind !== 'fatal' && message.kind !== 'ready' && message.job !== job) return;
        try {
          onMessage(message);
        } catch (error) {
          options.logger.debug({ err: error, run_id: task.runId }, 'ignored a malformed message from a javascript process');
        }
      },
      output: (stream, text) => (stream === 'stderr' ? stderr : stdout).push(text),
      exit: (code, signal) => finish({ code, signal }),
    });
    task.signal.addEventListener('abort', onAbort, { once: true });
    if (task.timeoutMs !== undefined) timeoutTimer = setTimeout(() => stop('timeout'), task.timeoutMs);
    process.send({ kind: 'run', segment });
    // Stopped while the process was being found and the directory handed over: no event comes any more.
    if (task.signal.aborted) onAbort();
  });
}

export function stopOf(signal: AbortSignal): StopReason {
  return signal.reason === StopReason.killed ? StopReason.killed : StopReason.engineStopped;
}

function segmentResults(keyed: Record<string, unknown>, value: unknown): unknown {
  const results = { ...keyed };
  if (value !== undefined) {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) Object.assign(results, value);
    else results['return'] = value;
  }
  return Object.keys(results).length === 0 ? null : results;
}

export function ending(
  stopped: Stop | undefined,
  failure: string | undefined,
  finished: boolean,
  task: SegmentTask,
  exit?: Exit,
  stderr?: LineTail,
  memoryLimitMb?: number,
): Omit<SegmentOutcome, 'results' | 'output'> {
  if (stopped === StopReason.killed) return { state: 'killed', exitCode: null, message: 'killed' };
  if (stopped === StopReason.engineStopped) return { state: 'failed', exitCode: null, message: 'engine stopped' };
  if (stopped === 'timeout') return timedOut(task.timeoutMs);
  if (failure !== undefined) return { state: 'failed', exitCode: null, message: failure };
  if (finished) return { state: 'succeeded', exitCode: null, message: null };
  if (stderr !== undefined && OUT_OF_MEMORY.test(stderr.tail(20))) {
    return { state: 'failed', exitCode: null, message: `out of memory: the module's heap reached ${String(memoryLimitMb)} MB` };
  }
  const how = exit?.signal != null ? `was killed by ${exit.signal}` : `exited (code ${String(exit?.code)})`;
  return { state: 'failed', exitCode: null, message: `the javascript process ${how} before the module's default export settled` };
}
