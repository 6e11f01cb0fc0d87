// @ts-check
/**
 * A pooled worker thread of the javascript executor: runs segments one
 * after another, each by importing the procedure's entry module (from the
 * module cache, so each procedure is imported once per thread) and calling
 * its default export with the segment's context, and reports back to
 * JavascriptExecutor with messages tagged by the segment's job number.
 * Plain JavaScript, so the same file runs from `src/` under the tests and
 * from `dist/`.
 *
 * console and process.stdout/stderr are replaced, so that what a module
 * prints goes to the segment whose code printed it: the job travels with
 * the code's async context, timers and promises included.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Console } from 'node:console';
import { Writable } from 'node:stream';
import { format } from 'node:util';
import { parentPort } from 'node:worker_threads';
import { SegmentTables } from './javascript-tables.js';

/** @typedef {import('./javascript-messages.js').JavascriptSegmentData} JavascriptSegmentData */
/** @typedef {import('./javascript-messages.js').JavascriptContext} JavascriptContext */
/** @typedef {import('./javascript-messages.js').FromJavascriptWorker} FromJavascriptWorker */
/** @typedef {import('./javascript-messages.js').ToJavascriptWorker} ToJavascriptWorker */

const port = parentPort;
if (port === null) throw new Error('javascript-worker.js runs only as a worker thread');

/** The job of the segment whose code is running. @type {AsyncLocalStorage<number>} */
const currentJob = new AsyncLocalStorage();

/** The abort controller of the segment running, by job. @type {Map<number, AbortController>} */
const aborts = new Map();

/** @param {FromJavascriptWorker} message */
function send(message) {
  port?.postMessage(message);
}

/**
 * Sends text written to a stream to the segment of the code writing it.
 * @param {'stdout' | 'stderr'} stream
 * @param {string | Uint8Array} chunk
 * @returns {true}
 */
function sendOutput(stream, chunk) {
  const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
  send({ kind: 'output', job: currentJob.getStore(), stream, text });
  return true;
}

/**
 * A stream for the console; its write runs in the writer's own async
 * context, as it completes at once.
 * @param {'stdout' | 'stderr'} stream
 */
function consoleStream(stream) {
  return new Writable({
    decodeStrings: false,
    write(chunk, _encoding, done) {
      sendOutput(stream, chunk);
      done();
    },
  });
}

globalThis.console = new Console({ stdout: consoleStream('stdout'), stderr: consoleStream('stderr') });
process.stdout.write = (/** @type {string | Uint8Array} */ chunk) => sendOutput('stdout', chunk);
process.stderr.write = (/** @type {string | Uint8Array} */ chunk) => sendOutput('stderr', chunk);

port.on('message', (/** @type {ToJavascriptWorker} */ message) => {
  if (message.kind === 'run') void runSegment(message.segment);
  else abortSegment(message.job, message.reason);
});

/**
 * Aborts a segment's signal inside its job's context: the signal's
 * listeners run now, and what they print is the segment's.
 * @param {number} job
 * @param {string} reason
 */
function abortSegment(job, reason) {
  const abort = aborts.get(job);
  if (abort !== undefined) currentJob.run(job, () => abort.abort(new DOMException(`segment ${reason}`, 'AbortError')));
}

/**
 * Runs one segment and reports how it ended; its tables are closed first,
 * so a successful segment's outputs are complete when it reports done.
 * @param {JavascriptSegmentData} data
 */
async function runSegment(data) {
  const { job } = data;
  const abort = new AbortController();
  aborts.set(job, abort);
  /** @type {SegmentTables | undefined} */
  let tables;
  try {
    tables = await SegmentTables.open(data.inputs, data.outputs);
    const context = segmentContext(data, tables, abort.signal);
    const value = await currentJob.run(job, () => callEntry(data, context));
    await tables.close();
    send({ kind: 'done', job, json: value === undefined ? undefined : jsonOf(value) });
  } catch (error) {
    await tables?.close().catch(() => undefined);
    const message = error instanceof Error ? error.message : String(error);
    const stack = error instanceof Error ? error.stack : undefined;
    send({ kind: 'failed', job, message: message === '' ? String(error) : message, stack });
  } finally {
    aborts.delete(job);
  }
}

/**
 * Imports the entry module (once per thread: the URL is the module's) and calls its default export.
 * @param {JavascriptSegmentData} data
 * @param {JavascriptContext} context
 * @returns {Promise<unknown>}
 */
async function callEntry(data, context) {
  const module = /** @type {{ default?: unknown }} */ (await import(data.entryUrl));
  const main = module.default;
  if (typeof main !== 'function') throw new TypeError(`${data.entryName} has no default export function`);
  return /** @type {unknown} */ (await main(context));
}

/**
 * @param {JavascriptSegmentData} data
 * @param {SegmentTables} tables
 * @param {AbortSignal} signal
 * @returns {JavascriptContext}
 */
function segmentContext(data, tables, signal) {
  const { job } = data;
  return Object.freeze({
    runId: data.runId,
    segment: data.segment,
    segmentCount: data.segmentCount,
    params: data.params,
    workdir: data.workdir,
    env: Object.freeze({ ...data.env }),
    inputs: tables.inputs,
    outputs: tables.outputs,
    progress(/** @type {number} */ fraction) {
      if (typeof fraction !== 'number' || Number.isNaN(fraction)) throw new TypeError('progress() takes a number from 0 to 1');
      send({ kind: 'progress', job, fraction: Math.min(1, Math.max(0, fraction)) });
    },
    result(/** @type {string} */ key, /** @type {unknown} */ value) {
      if (typeof key !== 'string') throw new TypeError('result() takes a string key');
      const json = jsonOf(value);
      if (json === undefined) throw new TypeError(`result "${key}" is not JSON-serialisable`);
      send({ kind: 'result', job, key, json });
    },
    log: Object.freeze({
      info: (/** @type {unknown[]} */ ...args) => send({ kind: 'output', job, stream: 'stdout', text: `${format(...args)}\n` }),
      error: (/** @type {unknown[]} */ ...args) => send({ kind: 'output', job, stream: 'stderr', text: `${format(...args)}\n` }),
    }),
    signal,
  });
}

/**
 * JSON text of a value, or undefined when it has none (undefined, a
 * function) or cannot have one (a BigInt, a cycle).
 * @param {unknown} value
 * @returns {string | undefined}
 */
function jsonOf(value) {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}
