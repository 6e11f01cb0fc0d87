// @ts-check
/**
 * The command executor's spawner: a small Node process of the engine's
 * that starts command programs, reads their output and sees them end,
 * told over its channel (fd 3, one JSON message a line, see
 * command-spawner-messages.ts). Plain JavaScript, so the same file runs
 * from `src/` under the tests and from `dist/`.
 *
 * Why a process of its own: Node starts a program with fork(), which
 * stops the forking process's event loop for a time that grows with its
 * memory (its page tables are copied, then every page it writes is copied
 * again until the program has started), some 10 ms for the engine at
 * 130 MB. Here that stop is this small process's, not the engine's, and
 * so are reading the programs' output and sweeping a sandbox uid.
 *
 * It runs no code of users: it runs as the engine's user (root, to switch
 * uids), in a session of its own (a Ctrl-C to the engine's terminal is
 * the engine's to handle), and exits when its channel closes. What it
 * started then is left as an engine that dies leaves its programs: the
 * engine stops its segments before it closes the channel, and after a
 * crash the sweep fails or retries them and the next holder of their uids
 * kills what still runs as those (SandboxUsers.open).
 */
import { spawn } from 'node:child_process';
import { Socket } from 'node:net';
import { killProcessesOf } from '../sandbox/uid-processes.js';
import { CHANNEL_FD, messageLine, MessageLines } from './javascript-channel.js';
import { LineTail } from './line-tail.js';

/** @typedef {import('./command-spawner-messages.js').ToSpawner} ToSpawner */
/** @typedef {import('./command-spawner-messages.js').SpawnRequest} SpawnRequest */
/** @typedef {import('./command-spawner-messages.js').FromSpawner} FromSpawner */
/** @typedef {import('node:child_process').ChildProcess} ChildProcess */

/**
 * A program started and not yet ended.
 * @typedef {{ child: ChildProcess, stopped: boolean }} Program
 */

const channel = new Socket({ fd: CHANNEL_FD, readable: true, writable: true });

/** @type {Map<number, Program>} */
const programs = new Map();

/** @param {FromSpawner} message */
function post(message) {
  if (channel.writable) channel.write(messageLine(message));
}

/**
 * Sends a signal to a process group; a group that is gone already is fine.
 * @param {number} pid
 * @param {NodeJS.Signals} signal
 */
function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // Gone already.
  }
}

/** @param {SpawnRequest} request */
function start(request) {
  const { id, uid } = request;
  const stdout = new LineTail('stdout', request.maxOutputLines);
  const stderr = new LineTail('stderr', request.maxOutputLines);
  /** @type {ChildProcess} */
  let child;
  try {
    child = spawn(request.command, [...request.args], {
      cwd: request.cwd,
      env: request.env,
      detached: true,
      shell: false,
      // fd 3: the program's status channel (PROCGATE_STATUS_FD).
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      ...(uid === undefined ? {} : { uid, gid: uid }),
    });
  } catch (error) {
    post({ kind: 'ended', id, exitCode: null, signal: null, spawnError: /** @type {Error} */ (error).message, output: [], processesGone: false });
    return;
  }
  /** @type {Program} */
  const program = { child, stopped: false };
  programs.set(id, program);
  child.stdout?.setEncoding('utf8').on('data', (/** @type {string} */ chunk) => stdout.push(chunk));
  child.stderr?.setEncoding('utf8').on('data', (/** @type {string} */ chunk) => stderr.push(chunk));
  const status = /** @type {import('node:stream').Readable | null} */ (child.stdio[3]);
  status?.setEncoding('utf8').on('data', (/** @type {string} */ text) => post({ kind: 'status', id, text }));
  child.once('spawn', () => {
    if (child.pid !== undefined) post({ kind: 'started', id, pid: child.pid });
  });
  let processesGone = false;
  let ended = false;
  /**
   * @param {number | null} exitCode
   * @param {NodeJS.Signals | null} signal
   * @param {string} [spawnError]
   */
  const end = (exitCode, signal, spawnError) => {
    if (ended) return;
    ended = true;
    programs.delete(id);
    stdout.end();
    stderr.end();
    post({ kind: 'ended', id, exitCode, signal, spawnError, output: [...stdout.output(), ...stderr.output()], processesGone });
  };
  child.once('error', (error) => {
    // Only a failed spawn: the program never ran, so no 'close' follows.
    if (child.pid === undefined) end(null, null, error.message);
  });
  child.once('exit', () => {
    // Whatever the program left in its group goes with it once it was stopped.
    if (program.stopped && child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
    // What it left running as its uid (a daemon, a background job, which would hold its
    // output open) goes now, so its output ends.
    if (uid !== undefined) {
      killProcessesOf(uid);
      processesGone = true;
    }
  });
  child.once('close', (code, signal) => end(code, signal));
}

/** @param {import('./command-spawner-messages.js').StopRequest} request */
function stop(request) {
  const program = programs.get(request.id);
  const pid = program?.child.pid;
  if (program === undefined || pid === undefined) return;
  program.stopped = true;
  signalGroup(pid, request.signal);
}

/** The engine is gone, or done with us. */
function shutDown() {
  process.exit(0);
}

const lines = new MessageLines(
  (/** @type {ToSpawner} */ message) => {
    if (message.kind === 'spawn') start(message);
    else if (message.kind === 'stop') stop(message);
  },
  () => shutDown(),
);
channel.setEncoding('utf8').on('data', (/** @type {string} */ chunk) => lines.push(chunk));
channel.on('end', shutDown);
channel.on('error', shutDown);
