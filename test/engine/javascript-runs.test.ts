import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useEngine } from '../support/engine-fixture.js';
import { eventually, useProxiedDatabase } from '../support/test-database.js';

const t = useProxiedDatabase('engine_javascript', { statements: true });

interface RunRow {
  state: string;
  error: string | null;
  progress: string;
  segments_total: number | null;
  segments_succeeded: number;
  segments_failed: number;
  results: Record<string, unknown> | null;
}

const fixture = useEngine<RunRow>(t);
const { execute, finished } = fixture;

async function output(runId: string): Promise<string[]> {
  const { rows } = await fixture.client.query<{ stream: string; line_no: string; line: string }>(
    'SELECT stream, line_no::text, line FROM procgate.run_output WHERE run_id = $1 ORDER BY stream, segment, line_no',
    [runId],
  );
  return rows.map((o) => `${o.stream}:${o.line_no}:${o.line}`);
}

function marker(name: string): string {
  return path.join(tmpdir(), `procgate-js-${name}-${String(process.pid)}`);
}

describe('javascript procedures', () => {
  it('runs the default export of main.js with its context: log lines, progress, results', async () => {
    await fixture.client.query(`
      CREATE PROCEDURE p LANGUAGE javascript FILES ('main.js' = $js$
        export default async (ctx) => {
          ctx.log.info('hello', ctx.params.n);
          ctx.progress(0.5);
          ctx.log.error('to stderr');
          console.log('from console', typeof ctx.signal.aborted, Object.keys(ctx.inputs).length);
          ctx.result('n_plus_one', ctx.params.n + 1);
          ctx.log.info('segment %d of %d, run %s', ctx.segment, ctx.segmentCount, ctx.runId.length);
          return { answer: 42 };
        }
      $js$)`);
    const runId = await execute(`EXECUTE PROCEDURE p(n => 41)`);
    expect(await finished(runId)).toMatchObject({
      state: 'succeeded',
      error: null,
      progress: '1',
      segments_total: 1,
      segments_succeeded: 1,
      results: { 0: { n_plus_one: 42, answer: 42 } },
    });
    // console output and ctx.log travel over the process's IPC channel alike: in the order written.
    expect(await output(runId)).toEqual([
      'stderr:1:to stderr',
      'stdout:1:hello 41',
      'stdout:2:from console boolean 0',
      'stdout:3:segment 0 of 1, run 36',
    ]);
  });

  it('imports other FILES relative to the entry, runs index.js, and stores a non-object return value', async () => {
    await fixture.client.query(`
      CREATE PROCEDURE modules LANGUAGE javascript EXECUTION MODE NONDISTRIBUTED FILES (
        'index.js' = $js$
          import { double } from './lib/double.js';
          import { readFile } from 'node:fs/promises';
          export default async (ctx) => {
            ctx.log.info(await readFile(new URL('./data.txt', import.meta.url), 'utf8'));
            return double(21);
          };
        $js$,
        'lib/double.js' = $js$ export const double = (x) => x * 2; $js$,
        'data.txt' = 'some data')`);
    const runId = await execute(`EXECUTE PROCEDURE modules()`);
    expect(await finished(runId)).toMatchObject({ state: 'succeeded', results: { 0: { return: 42 } } });
    expect(await output(runId)).toEqual(['stdout:1:some data']);
  });

  it('fails a segment whose module throws, with the message as error and the stack in stderr', async () => {
    await fixture.client.query(`
      CREATE PROCEDURE thrower LANGUAGE javascript FILES ('main.mjs' = $js$
        export default async (ctx) => {
          ctx.log.info('before');
          await new Promise((resolve) => setTimeout(resolve, 10));
          throw new Error('bad input: ' + ctx.params.what);
        }
      $js$)`);
    const runId = await execute(`EXECUTE PROCEDURE thrower(what => 'nothing')`);
    expect(await finished(runId)).toMatchObject({ state: 'failed', error: 'bad input: nothing', segments_failed: 1 });
    const lines = await output(runId);
    expect(lines).toContain('stderr:1:Error: bad input: nothing');
    expect(lines.some((line) => /^stderr:2:\s+at .*main\.mjs/.test(line))).toBe(true);
    expect(lines).toContain('stdout:1:before');
  });

  it('ends a segment once its export settles, timers left behind or not; an uncaught throw fails it', async () => {
    await fixture.client.query(`
      CREATE PROCEDURE leftovers(crash boolean) LANGUAGE javascript FILES ('main.js' = $js$
        export default async (ctx) => {
          setInterval(() => {}, 1000);
          if (ctx.params.crash) {
            setTimeout(() => { throw new Error('late failure'); }, 5);
            await new Promise(() => {});
          }
          return process.env.PGPASSWORD === undefined && process.env.PROCGATE_SECRET === undefined;
        }
      $js$)`);
    const [clean, crash] = [
      await execute(`EXECUTE PROCEDURE leftovers(crash => false)`),
      await execute(`EXECUTE PROCEDURE leftovers(crash => true)`),
    ];
    expect(await finished(clean, 3_000)).toMatchObject({ state: 'succeeded', results: { 0: { return: true } } });
    expect(await finished(crash, 3_000)).toMatchObject({ state: 'failed', error: 'late failure' });
  });

  it('fails a procedure without an entry module', async () => {
    await fixture.client.query(`CREATE PROCEDURE no_entry LANGUAGE javascript FILES ('lib.js' = 'export default 1')`);
    const runId = await execute(`EXECUTE PROCEDURE no_entry()`);
    expect(await finished(runId)).toMatchObject({
      state: 'failed',
      error: 'no entry module: FILES must hold one of main.js, main.mjs, index.js, index.mjs',
    });
  });

  it('kills a run that never ends within 2 s, aborting its signal first', async () => {
    const started = marker('started');
    rmSync(started, { force: true });
    await fixture.client.query(`
      CREATE PROCEDURE forever(marker text) LANGUAGE javascript FILES ('main.js' = $js$
        import { writeFileSync } from 'node:fs';
        export default async (ctx) => {
          ctx.signal.addEventListener('abort', () => ctx.log.info('aborted:', ctx.signal.reason.message));
          writeFileSync(ctx.params.marker, 'started');
          await new Promise(() => {});
        }
      $js$)`);
    const runId = await execute(`EXECUTE PROCEDURE forever(marker => '${started}')`);
    await eventually(async () => existsSync(started), (exists) => exists);
    rmSync(started, { force: true });
    const killedAt = Date.now();
    expect((await fixture.client.query(`KILL RUN '${runId}'`)).rows).toEqual([{ run_id: runId, state: 'cancelling' }]);
    const done = await finished(runId, 2_000);
    expect(done.state).toBe('killed');
    expect(Date.now() - killedAt).toBeLessThan(2_000);
    expect(await output(runId)).toEqual(['stdout:1:aborted: segment killed']);
    const segment = await fixture.client.query('SELECT state, message FROM procgate.run_segments WHERE run_id = $1', [runId]);
    expect(segment.rows).toEqual([{ state: 'killed', message: 'killed' }]);
  });

  it('stops a busy loop at its timeout by killing its process', async () => {
    await fixture.client.query(`
      CREATE PROCEDURE spin LANGUAGE javascript FILES ('main.js' = $js$
        export default async () => { for (;;) {} }
      $js$)`);
    const started = Date.now();
    const runId = await execute(`EXECUTE PROCEDURE spin() WITH (timeout = 0.5)`);
    expect(await finished(runId, 5_000)).toMatchObject({ state: 'failed', error: 'timed out after 0.5 s' });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('reads TABLE arguments and writes INTO tables, progress and results live', async () => {
    await fixture.client.query(`
      CREATE TABLE readings AS
        SELECT g AS id, g % 3 AS sensor, CASE WHEN g % 10 = 0 THEN NULL ELSE g * 0.25 END AS value,
               E'note\\t' || g AS note, ARRAY[g, g + 1] AS pair
          FROM generate_series(1, 2000) g`);
    await fixture.client.query(`
      CREATE PROCEDURE scale(factor int, readings TABLE) LANGUAGE javascript FILES ('main.js' = $js$
        export default async (ctx) => {
          const out = ctx.outputs.scaled;
          for await (const r of ctx.inputs.readings) {
            await out.write({ id: r.id, value: r.value === null ? null : Number(r.value) * ctx.params.factor,
                              note: r.note.toUpperCase(), pair: r.pair.reverse() });
          }
          ctx.progress(1);
          return { written: out.rowCount };
        }
      $js$)`);
    await fixture.client.query('CREATE TABLE scaled (id int, value float8, note text, pair int[])');
    const runId = await execute(`EXECUTE PROCEDURE scale(factor => 4, readings => TABLE (readings)) INTO scaled WITH (segments = 2)`);
    const run = await finished(runId);
    expect(run).toMatchObject({ state: 'succeeded', segments_succeeded: 2, progress: '1' });
    const written = Object.values(run.results ?? {}).map((result) => (result as { written: number }).written);
    expect(written.reduce((a, b) => a + b, 0)).toBe(2000);
    const { rows } = await fixture.client.query(`
      SELECT count(*)::int AS n FROM (
        (SELECT id, value * 4 AS value, upper(note) AS note, ARRAY[pair[2], pair[1]] AS pair FROM readings
         EXCEPT ALL SELECT id, value, note, pair FROM scaled)
        UNION ALL
        (SELECT id, value, note, pair FROM scaled
         EXCEPT ALL SELECT id, value * 4, upper(note), ARRAY[pair[2], pair[1]] FROM readings)) d`);
    expect(rows).toEqual([{ n: 0 }]);
  });

  it('runs the segments of a distributed run in parallel processes', async () => {
    await fixture.client.query(`
      CREATE PROCEDURE parts LANGUAGE javascript FILES ('main.js' = $js$
        export default async (ctx) => {
          ctx.log.info('part ' + ctx.segment + '/' + ctx.segmentCount);
          return ctx.segment;
        }
      $js$)`);
    const runId = await execute(`EXECUTE PROCEDURE parts() WITH (segments = 3)`);
    expect(await finished(runId)).toMatchObject({
      state: 'succeeded',
      segments_total: 3,
      segments_succeeded: 3,
      results: { 0: { return: 0 }, 1: { return: 1 }, 2: { return: 2 } },
    });
    expect((await output(runId)).sort()).toEqual(['stdout:1:part 0/3', 'stdout:1:part 1/3', 'stdout:1:part 2/3']);
  });
});
