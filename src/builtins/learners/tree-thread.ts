import { Worker } from 'node:worker_threads';

const WORKER_URL = new URL('./tree-worker.js', import.meta.url);

/** How long a finished run's thread waits, warm, for the next training run. */
const IDLE_MS = 30_000;
/** Threads kept warm at most (runs training at once beyond this get new ones). */
const MAX_IDLE = 2;

export interface TreeOptions {
  readonly minNumSamples: number;
  readonly maxDepth: number;
}

interface TreeAnswer {
  readonly id: number;
  readonly tree?: unknown;
  readonly error?: string;
}

/**
 * Threads of finished runs, kept for the next: a fresh thread's first tree
 * takes half as long again while V8 compiles ml-cart's split search, so
 * back-to-back training runs (a sweep over hyperparameters) reuse a warm
 * one. An idle thread does not keep the process alive and ends after IDLE_MS.
 */
const idle: { worker: Worker; timer: NodeJS.Timeout }[] = [];

function takeIdle(): Worker | undefined {
  const entry = idle.pop();
  if (entry === undefined) return undefined;
  clearTimeout(entry.timer);
  entry.worker.removeAllListeners('exit');
  entry.worker.removeAllListeners('error');
  entry.worker.ref();
  return entry.worker;
}

function keepIdle(worker: Worker): boolean {
  if (idle.length >= MAX_IDLE) return false;
  const entry = {
    worker,
    timer: setTimeout(() => {
      idle.splice(idle.indexOf(entry), 1);
      void worker.terminate();
    }, IDLE_MS).unref(),
  };
  worker.unref();
  // Nothing runs on an idle thread; should it fail anyway, it just ends.
  worker.on('error', () => undefined);
  worker.once('exit', () => {
    clearTimeout(entry.timer);
    const at = idle.indexOf(entry);
    if (at >= 0) idle.splice(at, 1);
  });
  idle.push(entry);
  return true;
}

/**
 * A thread for one training run's trees (see tree-worker.js): ml-cart's
 * split search is quadratic in the rows, so a tree can take seconds to
 * minutes, which must not happen on the engine's event loop. Trees are
 * grown one at a time; `signal` (the run's kill) terminates the thread and
 * fails the tree being grown. `close` hands a thread with nothing in flight
 * to the next run.
 */
export class TreeThread {
  private readonly worker: Worker;
  private next = 0;
  private readonly waiting = new Map<number, { resolve: (tree: unknown) => void; reject: (error: Error) => void }>();
  private failure: Error | undefined;
  private readonly onMessage = (message: TreeAnswer): void => {
    const waiter = this.waiting.get(message.id);
    this.waiting.delete(message.id);
    if (message.error !== undefined) waiter?.reject(new Error(message.error));
    else waiter?.resolve(message.tree);
  };
  private readonly onError = (error: Error): void => this.fail(error);
  private readonly onExit = (): void => this.fail(this.failure ?? new Error('the training thread exited'));
  private readonly onAbort = (): void => {
    this.fail(new Error('killed'));
    void this.worker.terminate();
  };

  constructor(
    private readonly kind: 'classifier' | 'regression',
    private readonly signal: AbortSignal,
  ) {
    this.worker = takeIdle() ?? new Worker(WORKER_URL);
    this.worker.on('message', this.onMessage);
    this.worker.on('error', this.onError);
    this.worker.on('exit', this.onExit);
    signal.addEventListener('abort', this.onAbort, { once: true });
  }

  /** The thread's id: the same for a run that got a warm thread as for the run before. */
  get threadId(): number {
    return this.worker.threadId;
  }

  /** Grows one tree on (x, y) in the thread; resolves with its JSON (an unlimited maxDepth is null). */
  train(x: number[][], y: number[], options: TreeOptions): Promise<unknown> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const id = this.next;
    this.next += 1;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve: (tree) => resolve(JSON.parse(tree as string)), reject });
      this.worker.postMessage({ id, kind: this.kind, x, y, options });
    });
  }

  /** Ends this run's use of the thread: kept warm if it is sound and idle, else terminated. */
  async close(): Promise<void> {
    const reusable = this.failure === undefined && this.waiting.size === 0 && !this.signal.aborted;
    this.failure ??= new Error('the training thread is closed');
    this.signal.removeEventListener('abort', this.onAbort);
    this.worker.off('message', this.onMessage);
    this.worker.off('error', this.onError);
    this.worker.off('exit', this.onExit);
    if (!reusable || !keepIdle(this.worker)) await this.worker.terminate();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.waiting.values()) waiter.reject(this.failure);
    this.waiting.clear();
  }
}
