// @ts-check
/**
 * The worker thread of one javascript segment: imports the procedure's
 * entry module from the segment's working directory (so its relative
 * imports find the other FILES), calls its default export with the
 * context and reports back to JavascriptExecutor. Plain JavaScript, so the
 * same file runs from `src/` under the tests and from `dist/`.
 */
import { format } from 'node:util';
import { parentPort, workerData } from 'node:worker_threads';

/** @typedef {import('./javascript-messages.js').JavascriptWorkerData} JavascriptWorkerData */
/** @typedef {import('./javascript-messages.js').JavascriptContext} JavascriptContext */
/** @typedef {import('./javascript-messages.js').FromJavascriptWorker} FromJavascriptWorker */
/** @typedef {import('./javascript-messages.js').ToJavascriptWorker} ToJavascriptWorker */

const port = parentPort;
if (port === null) throw new Error('javascript-worker.js runs only as a worker thread');
const data = /** @type {JavascriptWorkerData} */ (workerData);
const abort = new AbortController();

/** @param {FromJavascriptWorker} message */
function send(message) {
  port?.postMessage(message);
}

port.on('message', (/** @type {ToJavascriptWorker} */ message) => {
  if (message.kind === 'abort' && !abort.signal.aborted) {
    abort.abort(new DOMException(`segment ${message.reason}`, 'AbortError'));
  }
});

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

/** @type {JavascriptContext} */
const context = Object.freeze({
  runId: data.runId,
  segment: data.segment,
  segmentCount: data.segmentCount,
  params: data.params,
  workdir: data.workdir,
  inputs: Object.freeze({}),
  outputs: Object.freeze({}),
  progress(/** @type {number} */ fraction) {
    if (typeof fraction !== 'number' || Number.isNaN(fraction)) throw new TypeError('progress() takes a number from 0 to 1');
    send({ kind: 'progress', fraction: Math.min(1, Math.max(0, fraction)) });
  },
  result(/** @type {string} */ key, /** @type {unknown} */ value) {
    if (typeof key !== 'string') throw new TypeError('result() takes a string key');
    const json = jsonOf(value);
    if (json === undefined) throw new TypeError(`result "${key}" is not JSON-serialisable`);
    send({ kind: 'result', key, json });
  },
  log: Object.freeze({
    info: (/** @type {unknown[]} */ ...args) => send({ kind: 'log', stream: 'stdout', text: format(...args) }),
    error: (/** @type {unknown[]} */ ...args) => send({ kind: 'log', stream: 'stderr', text: format(...args) }),
  }),
  signal: abort.signal,
});

try {
  const module = /** @type {{ default?: unknown }} */ (await import(data.entryUrl));
  const main = module.default;
  if (typeof main !== 'function') throw new TypeError(`${data.entryName} has no default export function`);
  const value = await main(context);
  send({ kind: 'done', json: value === undefined ? undefined : jsonOf(value) });
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  const stack = error instanceof Error ? error.stack : undefined;
  send({ kind: 'failed', message: message === '' ? String(error) : message, stack });
}
// A timer or socket the module left open must not keep the segment alive.
port.close();
process.exit(0);
