import { type ChildProcess, spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../log/logger.js';
import { sandboxEnvironment } from '../sandbox/sandbox-environment.js';
import type { SandboxUser, SandboxUsers } from '../sandbox/sandbox-users.js';
import { messageLine, MessageLines } from './javascript-channel.js';
import type { FromJavascriptChild, ToJavascriptChild } from './javascript-messages.js';
import { procedureEnvironment } from './procedure-files.js';

/** Plain JavaScript, next to this file in `src/` and in `dist/` alike. */
const CHILD_PATH = fileURLToPath(new URL('./javascript-child.js', import.meta.url));

/** How long an exited process's stdout and stderr may take to deliver what is left in them. */
const DRAIN_MS = 200;

/** What the segment running on a process hears from it. */
export interface ProcessListener {
  message(message: FromJavascriptChild): void;
  /** What the process wrote to its own fd 1 or 2: a native crash, a program the module started. */
  output(stream: 'stdout' | 'stderr', text: string): void;
  /** The process is gone (its output read to the end): killed, crashed, out of memory, or never started. */
  exit(code: number | null, signal: NodeJS.Signals | null): void;
}

export interface JavascriptProcessOptions {
  /** The old-generation heap (--max-old-space-size); exceeding it ends the process. */
  readonly memoryLimitMb: number;
  /** Who the process runs as, for its whole life: given back to `sandbox` when it exits. */
  readonly sandbox: { readonly users: SandboxUsers; readonly user: SandboxUser } | undefined;
  readonly logger: Logger;
}

/**
 * A Node child process of the javascript pool (javascript-child.js): it
 * runs one segment at a time, told over its channel, as an
 * unprivileged uid when the engine has some (SandboxUsers), with the
 * engine's environment without secrets. It has a process group of its
 * own: whatever it starts goes with it (and, as a sandbox uid's, anything
 * left running as that uid goes when the uid is given back).
 */
export class JavascriptProcess {
  /** Segments given to this process. */
  segments = 0;
  /** The caller and module set this process serves (see JavascriptProcessPool); undefined: a spare. */
  binding: string | undefined;
  /** True once the process has loaded: it is warm. */
  online = false;
  /** Settles when the process is gone and its uid given back. */
  readonly gone: Promise<void>;
  private readonly child: ChildProcess;
  private readonly channel: Socket | null;
  private listener: ProcessListener | undefined;
  private exitedAs: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(private readonly options: JavascriptProcessOptions) {
    const user = options.sandbox?.user;
    this.child = spawn(process.execPath, [`--max-old-space-size=${String(options.memoryLimitMb)}`, CHILD_PATH], {
      cwd: '/',
      // Sandboxed: a name, and a PATH of what the uid can reach (HOME and TMPDIR follow each segment).
      env: user === undefined ? procedureEnvironment() : sandboxEnvironment(procedureEnvironment(), { home: '/', tmp: '/tmp' }),
      // fd 3: the channel (see javascript-channel.js), a socket pair.
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      detached: true,
      ...(user === undefined ? {} : { uid: user.uid, gid: user.gid }),
    });
    this.channel = this.child.stdio[3] as Socket | null;
    const lines = new MessageLines<FromJavascriptChild>(
      (message) => {
        if (message.kind === 'ready') this.online = true;
        else this.listener?.message(message);
      },
      (reason) => {
        // Only users' code writes anything but messages there: the process is not ours to trust any more.
        this.options.logger.warn({ pid: this.child.pid, reason }, 'a javascript process broke its channel: killed');
        this.listener?.message({ kind: 'fatal', message: `the javascript process broke its channel: ${reason}` });
        void this.kill();
      },
    );
    this.channel?.setEncoding('utf8').on('data', (chunk: string) => lines.push(chunk));
    // A write to a process that has exited fails; its exit tells the segment.
    this.channel?.on('error', () => undefined);
    this.child.stdout?.setEncoding('utf8').on('data', (text: string) => this.output('stdout', text));
    this.child.stderr?.setEncoding('utf8').on('data', (text: string) => this.output('stderr', text));
    this.gone = new Promise((resolve) => {
      let closed = false;
      const done = (): void => {
        if (closed) return;
        closed = true;
        const { code, signal } = this.exitedAs ?? { code: null, signal: null };
        this.listener?.exit(code, signal);
        resolve();
      };
      this.child.once('exit', (code, signal) => {
        this.exited(code, signal);
        // stdout and stderr close once what is left in them is read; something the module started may hold them open.
        setTimeout(done, DRAIN_MS).unref();
      });
      this.child.once('close', done);
      this.child.on('error', (error) => {
        // Only a failed start or a failed kill; a process that never started has no 'exit' to wait for.
        if (this.child.pid !== undefined) return;
        this.output('stderr', `could not start a javascript process: ${error.message}\n`);
        this.exited(null, null);
        done();
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** True until the process has exited. */
  get alive(): boolean {
    return this.exitedAs === undefined;
  }

  /** The uid the process runs as, when it runs as one of the sandbox's. */
  get user(): SandboxUser | undefined {
    return this.options.sandbox?.user;
  }

  /** Hands the process a segment: what it says goes to `listener` until it is detached. */
  attach(listener: ProcessListener): void {
    this.listener = listener;
    this.child.ref();
    for (const pipe of this.pipes()) pipe.ref();
  }

  /** Idle processes do not keep the engine's process alive. */
  detach(): void {
    this.listener = undefined;
    this.child.unref();
    for (const pipe of this.pipes()) pipe.unref();
  }

  /** A message to a process that has exited is dropped, as the listener hears its exit. */
  send(message: ToJavascriptChild): void {
    if (this.alive && this.channel?.writable === true) this.channel.write(messageLine(message));
  }

  /** Ends the process at once, busy or not; `gone` settles when it has. */
  kill(): Promise<void> {
    if (this.alive) {
      // Whoever waits for `gone` keeps the engine's process alive meanwhile.
      this.child.ref();
      for (const pipe of this.pipes()) pipe.ref();
      this.child.kill('SIGKILL');
    }
    return this.gone;
  }

  private pipes(): Socket[] {
    return [this.child.stdout, this.child.stderr, this.channel].filter((pipe) => pipe !== null) as Socket[];
  }

  private output(stream: 'stdout' | 'stderr', text: string): void {
    if (this.listener !== undefined) this.listener.output(stream, text);
    else this.options.logger.debug({ pid: this.child.pid, stream, text }, 'output of an idle javascript process');
  }

  private exited(code: number | null, signal: NodeJS.Signals | null): void {
    this.exitedAs = { code, signal };
    const pid = this.child.pid;
    this.options.logger.debug({ pid, code, signal, segments: this.segments }, 'javascript process exited');
    if (this.options.sandbox !== undefined) {
      // Kills whatever the module left running as the uid, then frees it.
      this.options.sandbox.users.release(this.options.sandbox.user);
    } else if (pid !== undefined) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // The group is empty.
      }
    }
  }
}
