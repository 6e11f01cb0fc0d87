import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SegmentOutcome, SegmentReport, SegmentTask, TableFile } from '../../src/engine/segment-task.js';

export interface JavascriptTaskOptions {
  readonly inputs?: readonly TableFile[];
  readonly outputs?: readonly TableFile[];
  readonly params?: Record<string, unknown>;
  readonly segment?: number;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly report?: (event: SegmentReport) => void;
  readonly environment?: SegmentTask['environment'];
  readonly extraFiles?: Record<string, string>;
  readonly caller?: string;
  readonly database?: SegmentTask['database'];
  /** The segment's directory, when the test made it already (for its table files). */
  readonly directory?: string;
}

/**
 * Segment tasks for a javascript executor's tests, each in a fresh
 * directory as the engine makes one; `cleanUp` removes the directories.
 */
export class JavascriptTasks {
  private readonly directories: string[] = [];

  /** A task running `main` as `main.js` (the caller `tester` unless told). */
  async task(main: string, options: JavascriptTaskOptions = {}): Promise<SegmentTask> {
    const directory = options.directory ?? (await this.directory());
    const files = Object.entries({ 'main.js': main, ...options.extraFiles }).map(([file, text]) => ({
      path: file,
      content: Buffer.from(text),
    }));
    return {
      runId: '00000000-0000-0000-0000-000000000001',
      segment: options.segment ?? 0,
      segmentCount: 2,
      attempt: 1,
      directory,
      command: '',
      args: [],
      files,
      params: Object.fromEntries(Object.entries(options.params ?? {}).map(([k, value]) => [k, { value, type: 'json' }])),
      timeoutMs: options.timeoutMs,
      maxOutputLines: 100,
      signal: options.signal ?? new AbortController().signal,
      inputs: options.inputs ?? [],
      outputs: options.outputs ?? [],
      report: options.report,
      environment: options.environment,
      caller: options.caller ?? 'tester',
      database: options.database,
    };
  }

  /** A fresh segment directory. */
  async directory(): Promise<string> {
    const directory = await mkdtemp(path.join(tmpdir(), 'procgate-js-test-'));
    this.directories.push(directory);
    return directory;
  }

  async cleanUp(): Promise<void> {
    await Promise.all(this.directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })));
  }
}

/** The lines of one stream of a segment's output. */
export function lines(outcome: SegmentOutcome, stream: 'stdout' | 'stderr'): string[] {
  return outcome.output.filter((line) => line.stream === stream).map((line) => line.line);
}
