import { Worker } from 'node:worker_threads';

const WORKER_URL = new URL('./tree-worker.js', import.meta.url);

export interface TreeOptions {
  readonly minNumSamples: number;
  readonly maxDepth: number;
}

/**
 * A thread of its own for one training run's trees (see tree-worker.js):
 * ml-cart's split search is quadratic in the rows, so a tree can take
 * seconds to minutes, which must not happen on the engine's event loop.
 * Trees are grown one at a time; `signal` (the run's kill) terminates the
 * thread and fails the tree being grown.
 */
export class TreeThread {
  private readonly worker: Worker;
  private next = 0;
  private readonly waiting = new Map<number, { resolve: (tree: unknown) => void; reject: (error: Error) => void }>();
  private failure: Error | undefined;

  constructor(
    private readonly kind: 'classifier' | 'regression',
    signal: AbortSignal,
  ) {
    this.worker = new Worker(WORKER_URL);
    this.worker.on('message', (message: { id: number; tree?: unknown; error?: string }) => {
      const waiter = this.waiting.get(message.id);
      this.waiting.delete(message.id);
      if (message.error !== undefined) waiter?.reject(new Error(message.error));
      else waiter?.resolve(message.tree);
    });
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', () => this.fail(this.failure ?? new Error('the training thread exited')));
    const onAbort = (): void => {
      this.fail(new Error('killed'));
      void this.worker.terminate();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    this.worker.once('exit', () => signal.removeEventListener('abort', onAbort));
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

  async close(): Promise<void> {
    this.failure ??= new Error('the training thread is closed');
    await this.worker.terminate();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.waiting.values()) waiter.reject(this.failure);
    this.waiting.clear();
  }
}
