// @ts-check
/**
 * A pooled child process of the javascript executor: runs segments one
 * after another, each by importing the procedure's entry module (from the
 * module cache, so the process imports its procedure once) and calling its
 * default export with the segment's context, and reports back to
 * JavascriptExecutor over its channel (fd 3, see javascript-channel.js)
 * with messages tagged by the segment's job number. Plain JavaScript, so the same file runs from
 * `src/` under the tests and from `dist/`.
 *
 * console and process.stdout/stderr are replaced, so that what a module
 * prints goes to the segment whose code printed it: the job travels with
 * the code's async context, timers and promises included. What reaches
 * the real file descriptors 1 and 2 (a native crash, a program the module
 * started) the executor gives to the segment running.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Console } from 'node:console';
import { Socket } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { format } from 'node:util';
import { CHANNEL_FD, MAX_MESSAGE_LENGTH, messageLine, MessageLines } from './javascript-channel.js';
import { SegmentDatabase } from './javascript-database.js';
import { SegmentTables } from './javascript-tables.js';

/** @typedef {import('./javascript-messages.js').JavascriptSegmentData} JavascriptSegmentData */
/** @typedef {import('./javascript-messages.js').JavascriptContext} JavascriptContext */
/** @typedef {import('./javascript-messages.js').FromJavascriptChild} FromJavascriptChild */
/** @typedef {import('./javascript-messages.js').ToJavascriptChild} ToJavascriptChild */

/** Output is sent in pieces of at most this many characters, well below a message's limit. */
const OUTPUT_PIECE = 1024 * 1024;

const channel = new Socket({ fd: CHANNEL_FD, readable: true, writable: true });

/** The environment the process was started with: each segment's is this plus its own variables. */
const baseEnvironment = /** @type {Record<string, string>} */ ({ ...process.env });

/** The job of the segment whose code is running. @type {AsyncLocalStorage<number>} */
const currentJob = new AsyncLocalStorage();

/**
 * The segment running, if any: its abort controller and database.
 * @type {{ job: number, abort: AbortController, db: SegmentDatabase } | undefined}
 */
let running;

/**
 * Sends a message; one too long for the channel throws a RangeError.
 * @param {FromJavascriptChild} message
 * @param {() => void} [written]
 */
function post(message, written) {
  const line = messageLine(message);
  if (line.length > MAX_MESSAGE_LENGTH) throw new RangeError(`a ${message.kind} message over ${String(MAX_MESSAGE_LENGTH)} characters`);
  // The channel is gone only when the engine is: the process exits then.
  if (channel.writable) channel.write(line, written);
  else written?.();
}

/** Error texts are cut to this length. */
const MAX_ERROR_TEXT = 64 * 1024;

/**
 * An error's message and stack, cut so that they fit a message.
 * @param {unknown} error
 * @returns {{ message: string, stack: string | undefined }}
 */
function errorText(error) {
  const message = error instanceof Error && error.message !== '' ? error.message : String(error);
  const stack = error instanceof Error ? error.stack : undefined;
  return { message: message.slice(0, MAX_ERROR_TEXT), stack: stack?.slice(0, MAX_ERROR_TEXT) };
}

/**
 * Sends text written to a stream to the segment of the code writing it.
 * @param {'stdout' | 'stderr'} stream
 * @param {string | Uint8Array} chunk
 * @returns {true}
 */
function sendOutput(stream, chunk) {
  const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
  const job = currentJob.getStore();
  for (let start = 0; start < text.length; start += OUTPUT_PIECE) {
    post({ kind: 'output', job, stream, text: text.slice(start, start + OUTPUT_PIECE) });
  }
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

const lines = new MessageLines(
  (/** @type {ToJavascriptChild} */ message) => {
    if (message.kind === 'run') void runSegment(message.segment);
    else if (message.kind === 'abort') abortSegment(message.job, message.reason);
    else if (running?.job === message.job) running.db.answer(message);
  },
  (reason) => {
    throw new Error(`the engine's channel broke: ${reason}`);
  },
);
channel.setEncoding('utf8').on('data', (/** @type {string} */ chunk) => lines.push(chunk));
// The engine is gone (stopped, or killed itself): nothing can use this process any more.
channel.on('end', () => process.exit(0));
channel.on('error', () => process.exit(0));

// An exception nothing caught (a timer's throw, a rejection nobody handles) fails the segment
// running and ends the process, as its state is unknown; the executor starts another.
process.on('uncaughtException', (error) => {
  post({ kind: 'fatal', ...errorText(error) }, () => process.exit(70));
});

post({ kind: 'ready' });

/**
 * Aborts a segment's signal inside its job's context: the signal's
 * listeners run now, and what they print is the segment's.
 * @param {number} job
 * @param {string} reason
 */
function abortSegment(job, reason) {
  const segment = running;
  if (segment?.job === job) currentJob.run(job, () => segment.abort.abort(new DOMException(`segment ${reason}`, 'AbortError')));
}

/**
 * Runs one segment and reports how it ended; its tables and its database
 * connection are closed first, so a successful segment's outputs are
 * complete when it reports done.
 * @param {JavascriptSegmentData} data
 */
async function runSegment(data) {
  const { job } = data;
  const segment = { job, abort: new AbortController(), db: new SegmentDatabase(job, post) };
  running = segment;
  /** @type {SegmentTables | undefined} */
  let tables;
  try {
    const env = segmentEnvironment(data);
    enter(data.workdir, env);
    tables = await SegmentTables.open(data.inputs, data.outputs);
    const context = segmentContext(data, env, tables, segment.abort.signal, segment.db);
    const value = await currentJob.run(job, () => callEntry(data, context));
    await Promise.all([tables.close(), segment.db.close()]);
    post({ kind: 'done', job, json: value === undefined ? undefined : jsonOf(value) });
  } catch (error) {
    await Promise.allSettled([tables?.close(), segment.db.close()]);
    post({ kind: 'failed', job, ...errorText(error) });
  } finally {
    if (running === segment) running = undefined;
    process.chdir('/');
  }
}

/**
 * The segment's environment: the process's own, plus the segment's
 * variables, with its PATH prefix.
 * @param {JavascriptSegmentData} data
 * @returns {Record<string, string>}
 */
function segmentEnvironment(data) {
  const env = { ...baseEnvironment, ...data.variables };
  if (data.pathPrefix.length > 0) {
    env['PATH'] = [...data.pathPrefix, ...(env['PATH'] === undefined ? [] : [env['PATH']])].join(path.delimiter);
  }
  return env;
}

/** The variables process.env has besides (or instead of) the process's own: the last segment's. @type {Set<string>} */
let changed = new Set();

/**
 * Makes `directory` the process's cwd and `env` its environment, for the
 * module and whatever it starts. Only what differs from the process's
 * own environment is set, so a segment costs a few variables, not all.
 * @param {string} directory
 * @param {Record<string, string>} env
 */
function enter(directory, env) {
  process.chdir(directory);
  const now = new Set();
  for (const [name, value] of Object.entries(env)) if (baseEnvironment[name] !== value) now.add(name);
  for (const name of changed) {
    if (now.has(name)) continue;
    const value = baseEnvironment[name];
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  for (const name of now) process.env[name] = env[name];
  changed = now;
}

/**
 * The entry modules imported, by URL: import() of one already loaded still costs a trip through the loader.
 * @type {Map<string, { default?: unknown }>}
 */
const imported = new Map();

/**
 * Imports the entry module (once per process: the URL is the module's) and calls its default export.
 * @param {JavascriptSegmentData} data
 * @param {JavascriptContext} context
 * @returns {Promise<unknown>}
 */
async function callEntry(data, context) {
  let module = imported.get(data.entryUrl);
  if (module === undefined) {
    module = /** @type {{ default?: unknown }} */ (await import(data.entryUrl));
    imported.set(data.entryUrl, module);
  }
  const main = module.default;
  if (typeof main !== 'function') throw new TypeError(`${data.entryName} has no default export function`);
  return /** @type {unknown} */ (await main(context));
}

/**
 * @param {JavascriptSegmentData} data
 * @param {Record<string, string>} env
 * @param {SegmentTables} tables
 * @param {AbortSignal} signal
 * @param {SegmentDatabase} db
 * @returns {JavascriptContext}
 */
function segmentContext(data, env, tables, signal, db) {
  const { job } = data;
  return Object.freeze({
    runId: data.runId,
    segment: data.segment,
    segmentCount: data.segmentCount,
    params: data.params,
    workdir: data.workdir,
    env: Object.freeze({ ...env }),
    inputs: tables.inputs,
    outputs: tables.outputs,
    db: db.api,
    progress(/** @type {number} */ fraction) {
      if (typeof fraction !== 'number' || Number.isNaN(fraction)) throw new TypeError('progress() takes a number from 0 to 1');
      post({ kind: 'progress', job, fraction: Math.min(1, Math.max(0, fraction)) });
    },
    result(/** @type {string} */ key, /** @type {unknown} */ value) {
      if (typeof key !== 'string') throw new TypeError('result() takes a string key');
      const json = jsonOf(value);
      if (json === undefined) throw new TypeError(`result "${key}" is not JSON-serialisable`);
      post({ kind: 'result', job, key, json });
    },
    log: Object.freeze({
      info: (/** @type {unknown[]} */ ...args) => post({ kind: 'output', job, stream: 'stdout', text: `${format(...args)}\n` }),
      error: (/** @type {unknown[]} */ ...args) => post({ kind: 'output', job, stream: 'stderr', text: `${format(...args)}\n` }),
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
