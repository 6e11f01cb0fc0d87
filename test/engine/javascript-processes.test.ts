import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { JavascriptExecutor, type JavascriptExecutorOptions } from '../../src/engine/executors/javascript-executor.js';
import { StopReason } from '../../src/engine/segment-task.js';
import { silentLogger } from '../../src/log/logger.js';
import { JavascriptTasks, lines } from '../support/javascript-tasks.js';
import { isLiveProcess } from '../support/processes.js';

/**
 * What running javascript modules in child processes changes: where they
 * run, which segments share a process, and how a process that dies takes
 * its segment with it. (Sandbox uids and ctx.db: javascript-sandbox.test.ts.)
 */

const KILL_GRACE_MS = 300;
const tasks = new JavascriptTasks();
const executors: JavascriptExecutor[] = [];
let modules: string;

function executor(options: Partial<JavascriptExecutorOptions> = {}): JavascriptExecutor {
  const made = new JavascriptExecutor({
    logger: silentLogger(),
    killGraceMs: KILL_GRACE_MS,
    poolSize: 2,
    moduleCacheDirectory: path.join(modules, 'js-modules'),
    ...options,
  });
  executors.push(made);
  return made;
}

beforeAll(async () => {
  process.env['PROCGATE_TEST_SECRET'] = 'secret';
  modules = await mkdtemp(path.join(tmpdir(), 'procgate-js-processes-test-'));
  await chmod(modules, 0o711);
});

afterAll(async () => {
  await Promise.all(executors.map((made) => made.close()));
  await rm(modules, { recursive: true, force: true });
  delete process.env['PROCGATE_TEST_SECRET'];
});

afterEach(() => tasks.cleanUp());

const whoAmI = `
  let calls = 0;
  export default () => ({ pid: process.pid, ppid: process.ppid, calls: ++calls });
`;

interface WhoAmI {
  readonly pid: number;
  readonly ppid: number;
  readonly calls: number;
}

describe('JavascriptExecutor: child processes', () => {
  it('runs a module in a child process of the engine, with the engine\'s environment without its secrets', async () => {
    const outcome = await executor().run(
      await tasks.task(`export default () => ({
        pid: process.pid, ppid: process.ppid, secret: process.env.PROCGATE_TEST_SECRET ?? null, path: process.env.PATH,
      })`),
    );
    expect(outcome.results).toEqual({ pid: expect.any(Number), ppid: process.pid, secret: null, path: process.env['PATH'] });
    expect((outcome.results as WhoAmI).pid).not.toBe(process.pid);
  });

  it('reuses a process only for segments of the same caller and procedure', async () => {
    const pool = executor();
    const run = async (caller: string, module = whoAmI): Promise<WhoAmI> =>
      (await pool.run(await tasks.task(module, { caller }))).results as WhoAmI;
    const alice = await run('alice');
    const bob = await run('bob');
    const aliceAgain = await run('alice');
    const aliceOther = await run('alice', `${whoAmI}\n// another procedure`);
    expect(aliceAgain).toEqual({ ...alice, calls: 2 });
    expect(bob.pid).not.toBe(alice.pid);
    expect(bob.calls).toBe(1);
    expect(aliceOther.pid).not.toBe(alice.pid);
    expect(aliceOther.calls).toBe(1);
  });

  it('retires the process idle the longest when more callers\' procedures are bound than the pool keeps', async () => {
    const pool = executor({ poolSize: 1, spares: 1 });
    const alice = (await pool.run(await tasks.task(whoAmI, { caller: 'alice' }))).results as WhoAmI;
    const bob = (await pool.run(await tasks.task(whoAmI, { caller: 'bob' }))).results as WhoAmI;
    expect(bob.pid).not.toBe(alice.pid);
    await expect.poll(() => isLiveProcess(alice.pid)).toBe(false);
    expect(isLiveProcess(bob.pid)).toBe(true);
    const aliceAgain = (await pool.run(await tasks.task(whoAmI, { caller: 'alice' }))).results as WhoAmI;
    expect(aliceAgain.calls).toBe(1);
  });

  it('fails a segment whose module outgrows the memory limit, and runs the next one', async () => {
    const pool = executor({ memoryLimitMb: 48 });
    const outcome = await pool.run(
      await tasks.task(`export default () => { const kept = []; for (;;) kept.push(new Array(10000).fill({ n: kept.length })); }`),
    );
    expect(outcome).toMatchObject({ state: 'failed', message: 'out of memory: the module\'s heap reached 48 MB' });
    expect(lines(outcome, 'stderr').join('\n')).toMatch(/JavaScript heap out of memory/);
    expect(await pool.run(await tasks.task(whoAmI))).toMatchObject({ state: 'succeeded' });
  });

  it('fails the segment of a process that crashes, with what it wrote on its own stderr', async () => {
    const outcome = await executor().run(
      await tasks.task(`import { writeSync } from 'node:fs';
        export default () => {
          console.log('before the crash');
          writeSync(2, 'a native message\\n');
          process.kill(process.pid, 'SIGSEGV');
          return new Promise(() => {});
        }`),
    );
    expect(outcome).toMatchObject({
      state: 'failed',
      message: 'the javascript process was killed by SIGSEGV before the module\'s default export settled',
    });
    expect(lines(outcome, 'stdout')).toEqual(['before the crash']);
    expect(lines(outcome, 'stderr')).toContain('a native message');
  });

  it('fails a segment whose process exits, or throws from a timer', async () => {
    const pool = executor();
    expect(await pool.run(await tasks.task(`export default () => { process.exit(3); }`))).toMatchObject({
      state: 'failed',
      message: 'the javascript process exited (code 3) before the module\'s default export settled',
    });
    const thrown = await pool.run(
      await tasks.task(`export default () => new Promise(() => { setTimeout(() => { throw new Error('late failure'); }, 5); })`),
    );
    expect(thrown).toMatchObject({ state: 'failed', message: 'late failure' });
    expect(lines(thrown, 'stderr')[0]).toBe('Error: late failure');
  });

  it('kills a process whose module writes on its channel what is not a message; the engine goes on', async () => {
    const pool = executor();
    const outcome = await pool.run(
      await tasks.task(`import { writeSync } from 'node:fs';
        export default () => { writeSync(3, 'not json\\n{"kind": "done", "job": 1}\\n'); return new Promise(() => {}); }`),
    );
    expect(outcome).toMatchObject({
      state: 'failed',
      message: 'the javascript process broke its channel: a line that is not a message',
    });
    expect(await pool.run(await tasks.task(whoAmI))).toMatchObject({ state: 'succeeded' });
  });

  it('kills a busy loop\'s process at the timeout, and one that ignores a kill', async () => {
    const pool = executor();
    const spin = `export default () => { for (;;) {} }`;
    const started = Date.now();
    expect(await pool.run(await tasks.task(spin, { timeoutMs: 100 }))).toMatchObject({
      state: 'failed',
      message: 'timed out after 0.1 s',
    });
    expect(Date.now() - started).toBeLessThan(100 + KILL_GRACE_MS + 1_000);
    const abort = new AbortController();
    const running = pool.run(await tasks.task(`export default () => new Promise(() => {})`, { signal: abort.signal }));
    setTimeout(() => abort.abort(StopReason.killed), 100);
    expect(await running).toMatchObject({ state: 'killed', message: 'killed' });
  });
});
