import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../log/logger.js';
import { handOverDirectory } from '../sandbox/hand-over.js';
import { sandboxEnvironment } from '../sandbox/sandbox-environment.js';
import type { SandboxUser } from '../sandbox/sandbox-users.js';
import type { DatabaseLogin } from '../segment-database.js';
import {
  type Executor,
  type SegmentOutcome,
  type SegmentTask,
  StopReason,
  type TableFile,
} from '../segment-task.js';
import { timedOut } from '../timed-out.js';
import { procedureEnvironment, writeProcedureFiles, writeProcedureFilesSync } from './procedure-files.js';
import { type ProgramEnd, ProgramSpawner } from './program-spawner.js';
import { StatusChannel } from './status-channel.js';

/** FILES up to this size in all are written synchronously. */
const SYNC_COPY_BYTES = 256 * 1024;

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
 * its own (so a kill reaches everything it started) by the engine's
 * spawner process (see ProgramSpawner), the run described by
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
  private readonly killGraceMs: number;
  private readonly spawner: ProgramSpawner;

  constructor(options: CommandExecutorOptions) {
    this.killGraceMs = options.killGraceMs ?? 2_000;
    this.spawner = new ProgramSpawner(options.logger);
  }

  /** Ends the spawner process; the engine's segments have ended by then. */
  close(): Promise<void> {
    return this.spawner.close();
  }

  async run(task: SegmentTask): Promise<SegmentOutcome> {
    // Made while the directory is laid out (the runner asks for a command's login as it is claimed).
    const loginMade = task.database?.login();
    loginMade?.catch(() => undefined);
    const workdir = path.join(task.directory, 'work');
    // The usual few small files without trips through libuv's thread pool, each costing more than its call.
    mkdirSync(workdir);
    if (task.files.reduce((size, file) => size + file.content.length, 0) <= SYNC_COPY_BYTES) {
      writeProcedureFilesSync(workdir, task.files);
    } else {
      await writeProcedureFiles(workdir, task.files);
    }
    const controlFile = path.join(task.directory, 'control.json');
    const params = await paramsWithFiles(task.params, path.join(task.directory, 'params'));
    writeFileSync(controlFile, JSON.stringify(controlDocument(task, params)), { mode: 0o600 });
    const login = await loginMade;
    const user = task.sandbox?.acquire();
    if (user === undefined) return await this.spawnSegment(task, workdir, controlFile, undefined, login);
    const sandboxed = { user, processesGone: false };
    try {
      await handOverDirectory(task.directory, user, task.outputs.map((output) => output.path));
      return await this.spawnSegment(task, workdir, controlFile, sandboxed, login);
    } finally {
      // The directory is root's alone again before another segment may get the uid.
      try {
        chownSync(task.directory, 0, 0);
        chmodSync(task.directory, 0o700);
      } finally {
        task.sandbox?.release(user, { processesGone: sandboxed.processesGone });
      }
    }
  }

  private spawnSegment(
    task: SegmentTask,
    cwd: string,
    controlFile: string,
    sandboxed: { readonly user: SandboxUser; processesGone: boolean } | undefined,
    login: DatabaseLogin | undefined,
  ): Promise<SegmentOutcome> {
    const status = new StatusChannel(task);
    const environment = childEnvironment(task, controlFile, login);
    const env = sandboxed === undefined
      ? environment
      : sandboxEnvironment(environment, { home: cwd, tmp: path.join(task.directory, 'tmp') });
    return new Promise<SegmentOutcome>((resolve) => {
      let stopped: StopReason | 'timeout' | undefined;
      let running = false;
      let killTimer: NodeJS.Timeout | undefined;
      let timeoutTimer: NodeJS.Timeout | undefined;
      const stopGroup = (reason: StopReason | 'timeout'): void => {
        if (stopped !== undefined || !running) return;
        stopped = reason;
        program.signal('SIGTERM');
        killTimer = setTimeout(() => program.signal('SIGKILL'), this.killGraceMs);
      };
      const onAbort = (): void => stopGroup(task.signal.reason === StopReason.killed ? 'killed' : 'engine stopped');
      const program = this.spawner.spawn(
        {
          command: task.command,
          args: task.args,
          cwd,
          env: env as Record<string, string>,
          maxOutputLines: task.maxOutputLines,
          ...(sandboxed === undefined ? {} : { uid: sandboxed.user.uid }),
        },
        {
          started: (pid) => {
            running = true;
            task.onStart?.(pid);
            if (task.signal.aborted) onAbort();
            else task.signal.addEventListener('abort', onAbort, { once: true });
            if (task.timeoutMs !== undefined) timeoutTimer = setTimeout(() => stopGroup('timeout'), task.timeoutMs);
          },
          status: (text) => status.push(text),
          ended: (end) => {
            running = false;
            clearTimeout(killTimer);
            clearTimeout(timeoutTimer);
            task.signal.removeEventListener('abort', onAbort);
            if (sandboxed !== undefined) sandboxed.processesGone = end.processesGone;
            status.end();
            const stderrTail = end.output.filter((line) => line.stream === 'stderr').slice(-MESSAGE_LINES);
            const state = ending(end, stopped, stderrTail.map((line) => line.line).join('\n'), task);
            const message = state.state === 'succeeded' ? status.lastMessage : state.message;
            resolve({ ...state, message, results: status.results(), output: end.output });
          },
        },
      );
    });
  }
}

/** The state and message of a finished program. */
function ending(
  end: ProgramEnd,
  stopped: StopReason | 'timeout' | undefined,
  stderrTail: string,
  task: SegmentTask,
): Omit<SegmentOutcome, 'results' | 'output'> {
  const { exitCode, signal } = end;
  if (end.spawnError !== undefined) {
    return { state: 'failed', exitCode: null, message: `could not start "${task.command}": ${end.spawnError}` };
  }
  if (stopped === 'killed') return { state: 'killed', exitCode, message: 'killed' };
  if (stopped === 'engine stopped') return { state: 'failed', exitCode, message: 'engine stopped' };
  if (stopped === 'timeout') return timedOut(task.timeoutMs, exitCode);
  if (end.failure !== undefined) return { state: 'failed', exitCode, message: end.failure };
  if (exitCode === 0) return { state: 'succeeded', exitCode, message: null };
  const fallback = exitCode === null ? `killed by signal ${signal ?? 'unknown'}` : `exited with code ${String(exitCode)}`;
  return { state: 'failed', exitCode, message: stderrTail === '' ? fallback : stderrTail };
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
