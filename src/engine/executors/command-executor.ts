import { spawn } from 'node:child_process';
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from '../../log/logger.js';
import { handOverDirectory } from '../sandbox/hand-over.js';
import { sandboxEnvironment } from '../sandbox/sandbox-environment.js';
import { killProcessesOf, type SandboxUser } from '../sandbox/sandbox-users.js';
import type { DatabaseLogin } from '../segment-database.js';
import {
  type Executor,
  type SegmentOutcome,
  type SegmentTask,
  StopReason,
  type TableFile,
} from '../segment-task.js';
import { timedOut } from '../timed-out.js';
import { LineTail } from './line-tail.js';
import { StatusChannel } from './status-channel.js';
import { procedureEnvironment, writeProcedureFiles } from './procedure-files.js';

/** stderr lines that make a failed segment's message. */
const MESSAGE_LINES = 20;

export interface CommandExecutorOptions {
  readonly logger: Logger;
  /** Between SIGTERM and SIGKILL of a stopped segment's process group. */
  readonly killGraceMs?: number;
}

/**
 * Runs `LANGUAGE command` segments as docs/procedures.md's "Command procedures"
 * contract says: a fresh working directory holding the procedure's files,
 * `command args...` spawned there without a shell in a process group of
 * its own (so a kill reaches everything it started), the run described by
 * environment variables and a JSON control file, stdout and stderr kept
 * line by line (the last max_output_lines of each), the exit code deciding
 * the state.
 *
 * When procgate can switch users (task.sandbox), the program runs as an
 * unprivileged uid of its own for the segment, in a directory handed over
 * to it (see handOverDirectory), with HOME its working directory and
 * TMPDIR the segment's `tmp/`. When its main process exits, whatever else
 * still runs as the uid is killed; the directory is taken back before the
 * uid goes to another segment. Otherwise it runs as the engine's own OS
 * user (the engine says so at start; see isolationOf). Either way the
 * child does not get the engine's secrets: PROCGATE_* and libpq's PG*
 * variables are removed from its environment. It gets the segment's own
 * login into the database instead (task.database), as the run's caller:
 * libpq's PG* variables and PROCGATE_DATABASE_URL.
 */
export class CommandExecutor implements Executor {
  readonly language = 'command';
  readonly dataFormat = 'csv';
  private readonly logger: Logger;
  private readonly killGraceMs: number;

  constructor(options: CommandExecutorOptions) {
    this.logger = options.logger;
    this.killGraceMs = options.killGraceMs ?? 2_000;
  }

  async run(task: SegmentTask): Promise<SegmentOutcome> {
    // Made while the directory is laid out: a round trip and a key derivation off the critical path.
    const loginMade = task.database?.login();
    loginMade?.catch(() => undefined);
    const workdir = path.join(task.directory, 'work');
    await mkdir(workdir);
    await writeProcedureFiles(workdir, task.files);
    const controlFile = path.join(task.directory, 'control.json');
    const params = await paramsWithFiles(task.params, path.join(task.directory, 'params'));
    await writeFile(controlFile, JSON.stringify(controlDocument(task, params)), { mode: 0o600 });
    const login = await loginMade;
    const user = task.sandbox?.acquire();
    if (user === undefined) return await this.spawnSegment(task, workdir, controlFile, undefined, login);
    const sandboxed = { user, processesGone: false };
    try {
      await handOverDirectory(task.directory, user, task.outputs.map((output) => output.path));
      return await this.spawnSegment(task, workdir, controlFile, sandboxed, login);
    } finally {
      // The directory is root's alone again before another segment may get the uid.
      await chown(task.directory, 0, 0)
        .then(() => chmod(task.directory, 0o700))
        .finally(() => task.sandbox?.release(user, { processesGone: sandboxed.processesGone }));
    }
  }

  private spawnSegment(
    task: SegmentTask,
    cwd: string,
    controlFile: string,
    sandboxed: { readonly user: SandboxUser; processesGone: boolean } | undefined,
    login: DatabaseLogin | undefined,
  ): Promise<SegmentOutcome> {
    const stdout = new LineTail('stdout', task.maxOutputLines);
    const stderr = new LineTail('stderr', task.maxOutputLines);
    const status = new StatusChannel(task);
    return new Promise<SegmentOutcome>((resolve) => {
      let stopped: StopReason | 'timeout' | undefined;
      let killTimer: NodeJS.Timeout | undefined;
      let timeoutTimer: NodeJS.Timeout | undefined;
      const child = spawn(task.command, [...task.args], {
        cwd,
        detached: true,
        shell: false,
        // fd 3: the status channel (PROCGATE_STATUS_FD).
        stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
        env:
          sandboxed === undefined
            ? childEnvironment(task, controlFile, login)
            : sandboxEnvironment(childEnvironment(task, controlFile, login), { home: cwd, tmp: path.join(task.directory, 'tmp') }),
        ...(sandboxed === undefined ? {} : { uid: sandboxed.user.uid, gid: sandboxed.user.gid }),
      });
      const stopGroup = (reason: StopReason | 'timeout'): void => {
        if (stopped !== undefined || child.pid === undefined || child.exitCode !== null) return;
        stopped = reason;
        signalGroup(child.pid, 'SIGTERM');
        const pid = child.pid;
        killTimer = setTimeout(() => signalGroup(pid, 'SIGKILL'), this.killGraceMs);
      };
      const onAbort = (): void => stopGroup(task.signal.reason === StopReason.killed ? 'killed' : 'engine stopped');
      child.stdout?.setEncoding('utf8').on('data', (chunk: string) => stdout.push(chunk));
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
      const statusPipe = child.stdio[3] as Readable | null;
      statusPipe?.setEncoding('utf8').on('data', (chunk: string) => status.push(chunk));
      child.once('spawn', () => {
        if (child.pid !== undefined) task.onStart?.(child.pid);
        if (task.signal.aborted) onAbort();
        else task.signal.addEventListener('abort', onAbort, { once: true });
        if (task.timeoutMs !== undefined) timeoutTimer = setTimeout(() => stopGroup('timeout'), task.timeoutMs);
      });
      let finished = false;
      const finish = (exitCode: number | null, signal: NodeJS.Signals | null, spawnError?: Error): void => {
        if (finished) return;
        finished = true;
        clearTimeout(killTimer);
        clearTimeout(timeoutTimer);
        task.signal.removeEventListener('abort', onAbort);
        // Whatever the program left behind in its group goes with it once it was stopped.
        if (stopped !== undefined && child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
        stdout.end();
        stderr.end();
        status.end();
        const output = [...stdout.output(), ...stderr.output()];
        const end = ending(exitCode, signal, stopped, stderr.tail(MESSAGE_LINES), task, spawnError);
        const message = end.state === 'succeeded' ? status.lastMessage : end.message;
        resolve({ ...end, message, results: status.results(), output });
      };
      child.once('error', (error) => {
        // Only a failed spawn: the child never ran, so no 'close' follows.
        if (child.pid === undefined) finish(null, null, error);
      });
      // The program is done: what it left running as its uid (a daemon, a background job, which
      // would hold its output open) goes now, so its output ends.
      if (sandboxed !== undefined) {
        child.once('exit', () => {
          killProcessesOf(sandboxed.user.uid);
          sandboxed.processesGone = true;
        });
      }
      child.once('close', (code, signal) => finish(code, signal));
    });
  }
}

/** The state and message of a finished child. */
function ending(
  exitCode: number | null,
  signal: NodeJS.Signals | null,
  stopped: StopReason | 'timeout' | undefined,
  stderrTail: string,
  task: SegmentTask,
  spawnError: Error | undefined,
): Omit<SegmentOutcome, 'results' | 'output'> {
  if (spawnError !== undefined) {
    return { state: 'failed', exitCode: null, message: `could not start "${task.command}": ${spawnError.message}` };
  }
  if (stopped === 'killed') return { state: 'killed', exitCode, message: 'killed' };
  if (stopped === 'engine stopped') return { state: 'failed', exitCode, message: 'engine stopped' };
  if (stopped === 'timeout') return timedOut(task.timeoutMs, exitCode);
  if (exitCode === 0) return { state: 'succeeded', exitCode, message: null };
  const fallback = exitCode === null ? `killed by signal ${signal ?? 'unknown'}` : `exited with code ${String(exitCode)}`;
  return { state: 'failed', exitCode, message: stderrTail === '' ? fallback : stderrTail };
}

/** Sends a signal to a process group; a group that is already gone is fine. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/**
 * The control file (docs/procedures.md, "The control file"): the run's parameters typed as
 * stored (`{ name: { value, type } }`, a bytea's value replaced by the path
 * of a file holding its bytes), each input's file, format and columns, and
 * each output's file to write with its format and the columns the INTO
 * table expects.
 */
function controlDocument(task: SegmentTask, params: Record<string, unknown>): unknown {
  const format = task.dataFormat ?? 'csv';
  const table = (file: TableFile): unknown => ({
    name: file.name,
    path: file.path,
    format,
    header: format === 'csv',
    columns: file.columns.map((column) => ({ name: column.name, type: column.type })),
  });
  return {
    run_id: task.runId,
    segment: task.segment,
    segment_count: task.segmentCount,
    params,
    inputs: task.inputs.map(table),
    outputs: task.outputs.map(table),
  };
}

/** bytea parameters written to `<dir>/<n>.bin`, their value in the control file replaced by `path`. */
async function paramsWithFiles(
  params: Readonly<Record<string, unknown>>,
  directory: string,
): Promise<Record<string, unknown>> {
  const result: Record<string, unknown> = {};
  let n = 0;
  for (const [name, param] of Object.entries(params)) {
    const typed = param as { value?: unknown; type?: unknown } | null;
    if (typed?.type === 'bytea' && typeof typed.value === 'string' && typed.value.startsWith('\\x')) {
      n += 1;
      if (n === 1) await mkdir(directory, { mode: 0o700 });
      const file = path.join(directory, `${String(n)}.bin`);
      await writeFile(file, Buffer.from(typed.value.slice(2), 'hex'), { mode: 0o600 });
      result[name] = { type: 'bytea', path: file };
    } else {
      result[name] = param;
    }
  }
  return result;
}

/** The engine's environment without secrets, the procedure's, the segment's database login, the run. */
function childEnvironment(task: SegmentTask, controlFile: string, login: DatabaseLogin | undefined): NodeJS.ProcessEnv {
  const base = procedureEnvironment();
  const prefix = task.environment?.pathPrefix ?? [];
  return {
    ...base,
    ...task.environment?.variables,
    ...(prefix.length > 0 ? { PATH: [...prefix, base['PATH'] ?? ''].join(path.delimiter) } : {}),
    ...login?.environment,
    PROCGATE_STATUS_FD: '3',
    PROCGATE_RUN_ID: task.runId,
    PROCGATE_SEGMENT: String(task.segment),
    PROCGATE_SEGMENT_COUNT: String(task.segmentCount),
    PROCGATE_CONTROL_FILE: controlFile,
  };
}
