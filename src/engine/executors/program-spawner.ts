import { type ChildProcess, spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../log/logger.js';
import { messageLine, MessageLines } from './javascript-channel.js';
import type { EndedEvent, FromSpawner, SpawnRequest, ToSpawner } from './command-spawner-messages.js';

/** Plain JavaScript, next to this file in `src/` and in `dist/` alike. */
const SPAWNER_PATH = fileURLToPath(new URL('./command-spawner.js', import.meta.url));

/** What one program's segment hears of it. */
export interface ProgramListener {
  /** The program runs, as this process id. */
  started(pid: number): void;
  /** A piece of its status channel. */
  status(text: string): void;
  /** It is done; called once, and last. */
  ended(end: ProgramEnd): void;
}

/** How a program ended (see EndedEvent), or `failure`: the spawner could not see it through. */
export type ProgramEnd = Omit<EndedEvent, 'kind' | 'id'> & { readonly failure?: string };

/** A program asked for: signals go to its process group. */
export interface SpawnedProgram {
  signal(signal: NodeJS.Signals): void;
}

/** A spawner process and the programs it runs. */
interface Spawner {
  readonly child: ChildProcess;
  readonly channel: Socket;
  readonly programs: Map<number, { readonly listener: ProgramListener; pid: number | undefined }>;
}

/**
 * Starts command programs through a spawner process of the engine's
 * (command-spawner.js), so that no fork stops the engine's event loop.
 * The spawner is started at the first program and again after it died;
 * programs running when it died end as failed (and their process groups
 * are killed), later ones get a new spawner.
 */
export class ProgramSpawner {
  private spawner: Spawner | undefined;
  private nextId = 0;
  private closed = false;

  constructor(private readonly logger: Logger) {}

  /** Starts a program; the listener hears it start, report and end. */
  spawn(request: Omit<SpawnRequest, 'kind' | 'id'>, listener: ProgramListener): SpawnedProgram {
    if (this.closed) {
      listener.ended({ exitCode: null, signal: null, failure: 'engine stopped', output: [], processesGone: false });
      return { signal: () => undefined };
    }
    const spawner = (this.spawner ??= this.startSpawner());
    this.nextId += 1;
    const id = this.nextId;
    const program = { listener, pid: undefined as number | undefined };
    spawner.programs.set(id, program);
    send(spawner, { kind: 'spawn', id, ...request });
    return {
      signal: (signal) => {
        if (spawner.programs.has(id)) send(spawner, { kind: 'stop', id, signal });
      },
    };
  }

  /** Ends the spawner: programs it still runs are killed. */
  async close(): Promise<void> {
    this.closed = true;
    const spawner = this.spawner;
    if (spawner === undefined) return;
    const exited = new Promise<void>((resolve) => {
      if (spawner.child.exitCode !== null || spawner.child.signalCode !== null) resolve();
      else spawner.child.once('exit', () => resolve());
    });
    spawner.channel.end();
    await exited;
  }

  private startSpawner(): Spawner {
    const child = spawn(process.execPath, [SPAWNER_PATH], {
      cwd: '/',
      // Each program gets its environment with its request; the spawner needs none.
      env: {},
      // fd 3: the channel, a socket pair; stderr: where Node says why the spawner died, if it does.
      stdio: ['ignore', 'ignore', 'inherit', 'pipe'],
      detached: true,
    });
    const channel = child.stdio[3] as Socket;
    const spawner: Spawner = { child, channel, programs: new Map() };
    const lines = new MessageLines<FromSpawner>(
      (message) => this.receive(spawner, message),
      (reason) => {
        this.logger.error({ pid: child.pid, reason }, 'the command spawner broke its channel: killed');
        child.kill('SIGKILL');
      },
    );
    channel.setEncoding('utf8').on('data', (chunk: string) => lines.push(chunk));
    channel.on('error', (error) => this.logger.debug({ err: error }, 'the command spawner\'s channel failed'));
    child.once('error', (error) => this.logger.error({ err: error }, 'could not start the command spawner'));
    child.once('close', (code, signal) => this.lost(spawner, code, signal));
    // It ends when the engine's end of the channel closes; it must not keep the engine alive.
    child.unref();
    channel.unref();
    return spawner;
  }

  private receive(spawner: Spawner, message: FromSpawner): void {
    const program = spawner.programs.get(message.id);
    if (program === undefined) return;
    if (message.kind === 'started') {
      program.pid = message.pid;
      program.listener.started(message.pid);
    } else if (message.kind === 'status') {
      program.listener.status(message.text);
    } else {
      spawner.programs.delete(message.id);
      const { kind: _kind, id: _id, ...end } = message;
      program.listener.ended(end);
    }
  }

  /** The spawner is gone: what it ran ends as failed, its process groups killed. */
  private lost(spawner: Spawner, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.spawner === spawner) this.spawner = undefined;
    if (spawner.programs.size === 0) return;
    if (!this.closed) this.logger.error({ pid: spawner.child.pid, code, signal }, 'the command spawner exited');
    for (const program of spawner.programs.values()) {
      if (program.pid !== undefined) signalGroup(program.pid, 'SIGKILL');
      const failure = `the command spawner exited (${signal ?? `code ${String(code)}`})`;
      program.listener.ended({ exitCode: null, signal: null, failure, output: [], processesGone: false });
    }
    spawner.programs.clear();
  }
}

function send(spawner: Spawner, message: ToSpawner): void {
  if (spawner.channel.writable) spawner.channel.write(messageLine(message));
}

/** Sends a signal to a process group; a group that is gone already is fine. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Gone already.
  }
}
