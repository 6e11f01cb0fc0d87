import { Worker } from 'node:worker_threads';
import type { Logger } from '../../log/logger.js';
import type { FromJavascriptWorker, ToJavascriptWorker } from './javascript-messages.js';
import { procedureEnvironment } from './procedure-files.js';

/** Plain JavaScript, next to this file in `src/` and in `dist/` alike. */
const WORKER_URL = new URL('./javascript-worker.js', import.meta.url);

export interface JavascriptPoolOptions {
  /**
   * Threads kept warm. More are started when more segments run at once,
   * and kept too: the engine's slots bound them, and a burst of segments
   * should not pay a thread start each.
   */
  readonly size: number;
  /** A thread is replaced after running this many segments, which bounds its module cache. */
  readonly recycleAfter: number;
  /** Each thread's old-generation heap; exceeding it fails the thread's segment. */
  readonly memoryLimitMb: number;
  readonly logger: Logger;
}

/** What the segment running on a thread hears from it. */
export interface ThreadListener {
  message(message: FromJavascriptWorker): void;
  /** An exception nothing caught, or the memory limit: the thread is exiting. */
  error(error: Error): void;
  exit(code: number): void;
}

/** A worker thread of the pool; it runs one segment at a time. */
export class PooledThread {
  /** Segments given to this thread. */
  segments = 0;
  /** Keys of the module sets this thread has been given (and so has imported, or is importing). */
  readonly modules = new Set<string>();
  /** True once the thread runs JavaScript: it is warm. */
  online = false;
  private listener: ThreadListener | undefined;

  constructor(readonly worker: Worker) {
    worker.once('online', () => {
      this.online = true;
    });
    worker.on('message', (message: FromJavascriptWorker) => this.listener?.message(message));
    worker.on('error', (error) => this.listener?.error(error));
  }

  /** Hands the thread a segment: its messages go to `listener` until it is released. */
  attach(listener: ThreadListener): void {
    this.listener = listener;
  }

  detach(): void {
    this.listener = undefined;
  }

  /** Messages to a thread that has exited are dropped, as the listener hears its exit. */
  post(message: ToJavascriptWorker): void {
    this.worker.postMessage(message);
  }

  exited(code: number): void {
    this.listener?.exit(code);
  }
}

/**
 * Worker threads kept warm for javascript segments: starting a thread
 * costs tens of milliseconds, a message to a warm one almost nothing. The
 * pool is filled at its first use; a thread that exits (terminated, out
 * of memory, crashed, recycled) is replaced. Idle threads do not keep the
 * process alive.
 */
export class JavascriptThreadPool {
  private readonly threads = new Set<PooledThread>();
  private readonly idle: PooledThread[] = [];
  private closed = false;

  constructor(private readonly options: JavascriptPoolOptions) {}

  /**
   * A thread for a segment of module set `moduleKey`: an idle one that has
   * imported it, else a warm one, else any idle one, else a new one.
   */
  acquire(moduleKey: string): PooledThread {
    if (this.closed) throw new Error('the javascript thread pool is closed');
    const index = this.pick(moduleKey);
    const thread = index === -1 ? this.start() : this.idle.splice(index, 1)[0]!;
    thread.worker.ref();
    thread.segments += 1;
    thread.modules.add(moduleKey);
    this.fill();
    return thread;
  }

  /** A thread whose segment ended with its module settled: kept for the next, unless due for recycling. */
  release(thread: PooledThread): void {
    thread.detach();
    if (!this.threads.has(thread)) return;
    if (thread.segments >= this.options.recycleAfter) {
      void this.retire(thread);
      return;
    }
    thread.worker.unref();
    this.idle.push(thread);
  }

  /** Terminates a thread (one whose segment would not stop, or one due for replacement); the pool fills up again. */
  async retire(thread: PooledThread): Promise<void> {
    this.forget(thread);
    this.fill();
    await thread.worker.terminate();
  }

  /** Terminates every thread; segments still running on one end as its exit says. */
  async close(): Promise<void> {
    this.closed = true;
    const threads = [...this.threads];
    await Promise.all(threads.map((thread) => this.retire(thread)));
  }

  private pick(moduleKey: string): number {
    const withModule = this.idle.findLastIndex((thread) => thread.modules.has(moduleKey));
    if (withModule !== -1) return withModule;
    const warm = this.idle.findLastIndex((thread) => thread.online);
    return warm !== -1 ? warm : this.idle.length - 1;
  }

  private fill(): void {
    while (!this.closed && this.threads.size < this.options.size) {
      const thread = this.start();
      thread.worker.unref();
      this.idle.push(thread);
    }
  }

  private start(): PooledThread {
    const worker = new Worker(WORKER_URL, {
      env: procedureEnvironment(),
      // A small young generation: row-at-a-time code makes short-lived garbage, and a
      // large nursery per thread multiplies the engine's resident memory by the pool size.
      resourceLimits: { maxOldGenerationSizeMb: this.options.memoryLimitMb, maxYoungGenerationSizeMb: 16 },
    });
    const thread = new PooledThread(worker);
    this.threads.add(thread);
    worker.once('exit', (code) => {
      this.options.logger.debug({ thread: worker.threadId, code, segments: thread.segments }, 'javascript thread exited');
      this.forget(thread);
      thread.exited(code);
      this.fill();
    });
    return thread;
  }

  private forget(thread: PooledThread): void {
    this.threads.delete(thread);
    const index = this.idle.indexOf(thread);
    if (index !== -1) this.idle.splice(index, 1);
  }
}
