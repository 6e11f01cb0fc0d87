import type { OutputLine } from '../segment-task.js';

/**
 * The messages between the command executor (ProgramSpawner) and its
 * spawner process (command-spawner.js), one JSON object a line: requests
 * on the spawner's stdin, events on its stdout, each tagged with the
 * program's number.
 */

/** Starts a program: as docs/procedures.md's "Command procedures" says, without a shell, in a session of its own. */
export interface SpawnRequest {
  readonly kind: 'spawn';
  readonly id: number;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  /** A sandbox uid (its gid the same number): the program runs as it, and what else runs as it goes when the program exits. */
  readonly uid?: number;
  /** Lines kept of each of stdout and stderr. */
  readonly maxOutputLines: number;
}

/** Signals the program's process group, unless all of its output is read already. */
export interface StopRequest {
  readonly kind: 'stop';
  readonly id: number;
  readonly signal: NodeJS.Signals;
}

export type ToSpawner = SpawnRequest | StopRequest;

/** The program runs: its process id. */
export interface StartedEvent {
  readonly kind: 'started';
  readonly id: number;
  readonly pid: number;
}

/** A piece of what the program wrote to its status channel (fd 3). */
export interface StatusEvent {
  readonly kind: 'status';
  readonly id: number;
  readonly text: string;
}

/** The program is done: exited and its output read to the end, or it never started. */
export interface EndedEvent {
  readonly kind: 'ended';
  readonly id: number;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Why it could not start (`spawn x ENOENT`); then it never ran. */
  readonly spawnError?: string;
  /** The kept lines of stdout, then of stderr. */
  readonly output: readonly OutputLine[];
  /** A sandboxed program's uid has no process left: the spawner killed them as the program exited. */
  readonly processesGone: boolean;
}

export type FromSpawner = StartedEvent | StatusEvent | EndedEvent;
