import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { JavascriptExecutor } from '../../src/engine/executors/javascript-executor.js';
import { type SegmentReport, StopReason, type TableColumn, type TableFile } from '../../src/engine/segment-task.js';
import { silentLogger } from '../../src/log/logger.js';
import { JavascriptTasks, lines } from '../support/javascript-tasks.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

const KILL_GRACE_MS = 300;

let db: TestDatabase;
let client: pg.Client;
let executor: JavascriptExecutor;
/** Holds the module cache, as an engine's folder would. */
let modules: string;

beforeAll(async () => {
  // Set before the pool's threads start: they must not see it.
  process.env['PROCGATE_TEST_SECRET'] = 'secret';
  db = await createTestDatabase('javascript_executor');
  client = new pg.Client(db.direct);
  await client.connect();
  modules = await mkdtemp(path.join(tmpdir(), 'procgate-js-modules-test-'));
  executor = new JavascriptExecutor({
    logger: silentLogger(),
    killGraceMs: KILL_GRACE_MS,
    poolSize: 2,
    moduleCacheDirectory: path.join(modules, 'js-modules'),
  });
});

afterAll(async () => {
  await executor.close();
  await rm(modules, { recursive: true, force: true });
  await client.end();
  await db.drop();
  delete process.env['PROCGATE_TEST_SECRET'];
});

afterEach(() => tasks.cleanUp());

const tasks = new JavascriptTasks();
const segmentTask = tasks.task.bind(tasks);
const segmentDirectory = tasks.directory.bind(tasks);

/** A table's columns as the engine describes them. */
async function columnsOf(table: string): Promise<TableColumn[]> {
  const { rows } = await client.query<{ name: string; type: string; type_oid: number }>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, atttypid::int AS type_oid
       FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [table],
  );
  return rows.map((row) => ({ name: row.name, type: row.type, typeOid: row.type_oid }));
}

/** An input file made as the engine makes it: COPY ... TO STDOUT in text format. */
async function inputFile(name: string, table: string, directory: string): Promise<TableFile> {
  const file = path.join(directory, `${name}.txt`);
  await pipeline(client.query(copyTo(`COPY (SELECT * FROM ${table}) TO STDOUT`)), createWriteStream(file));
  return { name, path: file, columns: await columnsOf(table) };
}

async function outputFile(name: string, table: string, directory: string): Promise<TableFile> {
  return { name, path: path.join(directory, `${name}.txt`), columns: await columnsOf(table) };
}

/** Loads an output file as the engine does: COPY ... FROM STDIN in text format. */
async function load(table: string, file: TableFile): Promise<void> {
  await pipeline(createReadStream(file.path), client.query(copyFrom(`COPY ${table} FROM STDIN`)));
}

describe('JavascriptExecutor: table data', () => {
  beforeAll(async () => {
    await client.query(`
      CREATE TABLE source (
        id int4, big int8, amount numeric, ratio float8, flag boolean, label text,
        at timestamptz, local_at timestamp, day date, doc jsonb, tags text[], nums int4[], bytes bytea
      );
      INSERT INTO source VALUES
        (1, 9007199254740993, 12345678901234567890.123456789, 0.1, true,
         E'tab\\there\\nnew line\\\\back\\rslash héllo ✓ 😀', '2024-01-02 03:04:05.678+00', '2024-06-30 23:59:59.123',
         '2024-02-29', '{"a": [1, "x"], "s": "q\\"uote\\ttab"}',
         ARRAY['a b', 'c,d', 'e"f', 'g\\h', NULL, 'NULL', '', '{x}'], ARRAY[1, NULL, 3], '\\x00ff0a5c09'),
        (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
        (3, -1, 0, -1.5e300, false, '', '1999-12-31 23:59:59+05', '1970-01-01 00:00:00', '0001-01-01',
         '"just a string"', '{}', '{{1,2},{3,4}}', ''),
        (4, 0, -0.5, 'NaN', true, E'\\\\N', NULL, NULL, NULL, '[null, {"k": []}]', ARRAY['\\N'], NULL, '\\x5c4e');
      CREATE TABLE copied (LIKE source);
    `);
  });

  it('copies every row from an input to an output unchanged, NULLs and escapes included', async () => {
    const directory = await segmentDirectory();
    const task = await segmentTask(
      `export default async (ctx) => {
        let n = 0;
        for await (const row of ctx.inputs.rows) {
          await ctx.outputs.copied.write(row);
          n += 1;
        }
        return { n, rowCount: ctx.outputs[0].rowCount, byPosition: ctx.inputs[0] === ctx.inputs.rows };
      }`,
      {
        inputs: [await inputFile('rows', 'source', directory)],
        outputs: [await outputFile('copied', 'copied', directory)],
      },
    );
    const outcome = await executor.run(task);
    expect(outcome).toMatchObject({ state: 'succeeded', results: { n: 4, rowCount: 4, byPosition: true } });
    await load('copied', task.outputs[0]!);
    const difference = await client.query(
      '(TABLE source EXCEPT ALL TABLE copied) UNION ALL (TABLE copied EXCEPT ALL TABLE source)',
    );
    expect(difference.rows).toEqual([]);
  });

  it('decodes values with pg\'s parsers and encodes what a module computes', async () => {
    await client.query(`CREATE TABLE transformed (
      id int4, label_length int4, tags_upper text[], doc jsonb, byte_count int4, at_ms float8, day date, note text)`);
    const directory = await segmentDirectory();
    const task = await segmentTask(
      `const kind = (v) => v === null ? 'null' : Buffer.isBuffer(v) ? 'Buffer' : v instanceof Date ? 'Date'
        : Array.isArray(v) ? 'array' : typeof v;
      export default async (ctx) => {
        const out = ctx.outputs.transformed;
        for await (const r of ctx.inputs.rows) {
          if (r.id === 1) ctx.result('kinds', Object.fromEntries(Object.entries(r).map(([k, v]) => [k, kind(v)])));
          if (r.id === 2) {
            await out.write({ id: 2 }); // the other columns NULL
            continue;
          }
          await out.write([
            r.id,
            [...r.label].length, // characters, as length() counts them
            r.tags?.map((tag) => tag?.toUpperCase() ?? null) ?? null,
            r.doc === null ? null : [r.doc],
            r.bytes?.length ?? null,
            r.at?.getTime() ?? null,
            r.day,
            r.id === 1 ? 'a\\tb\\\\c' : undefined,
          ]);
        }
      }`,
      {
        inputs: [await inputFile('rows', 'source', directory)],
        outputs: [await outputFile('transformed', 'transformed', directory)],
      },
    );
    const outcome = await executor.run(task);
    expect(outcome).toMatchObject({ state: 'succeeded' });
    expect(outcome.results).toEqual({
      kinds: {
        id: 'number', big: 'string', amount: 'string', ratio: 'number', flag: 'boolean', label: 'string', at: 'Date',
        local_at: 'Date', day: 'Date', doc: 'object', tags: 'array', nums: 'array', bytes: 'Buffer',
      },
    });
    await load('transformed', task.outputs[0]!);
    const actual = await client.query('SELECT * FROM transformed ORDER BY id');
    const expected = await client.query(`
      SELECT id,
             length(label) AS label_length,
             CASE WHEN tags IS NULL THEN NULL
                  ELSE ARRAY(SELECT upper(t) FROM unnest(tags) WITH ORDINALITY AS u(t, i) ORDER BY i) END AS tags_upper,
             CASE WHEN doc IS NULL THEN NULL ELSE jsonb_build_array(doc) END AS doc,
             length(bytes) AS byte_count,
             (extract(epoch FROM at) * 1000)::float8 AS at_ms,
             day,
             CASE WHEN id = 1 THEN E'a\\tb\\\\c' END AS note
        FROM source ORDER BY id`);
    expect(actual.rows).toEqual(expected.rows);
  });

  it('fails the segment on a row with a column its output does not have', async () => {
    const directory = await segmentDirectory();
    const task = await segmentTask(
      `export default async (ctx) => { await ctx.outputs.copied.write({ id: 1, nope: 2 }); }`,
      { outputs: [await outputFile('copied', 'copied', directory)] },
    );
    expect(await executor.run(task)).toMatchObject({ state: 'failed', message: 'output "copied" has no column "nope"' });
  });

  it('reads lines longer than a chunk, stops at an end-of-data line, and reads an input again from the start', async () => {
    const directory = await segmentDirectory();
    const file = path.join(directory, 'lines.txt');
    const long = 'é'.repeat(100_000);
    await writeFile(file, `${long}\nshort\n\\.\nafter the end\n`);
    const task = await segmentTask(
      `export default async (ctx) => {
        const lengths = [];
        for await (const row of ctx.inputs.lines) lengths.push(row.t.length);
        for await (const row of ctx.inputs.lines) lengths.push(row.t.length);
        return lengths;
      }`,
      { inputs: [{ name: 'lines', path: file, columns: [{ name: 't', type: 'text', typeOid: 25 }] }] },
    );
    expect(await executor.run(task)).toMatchObject({ state: 'succeeded', results: { return: [100_000, 5, 100_000, 5] } });
  });

  it('creates an empty output file when the module writes nothing', async () => {
    const directory = await segmentDirectory();
    const task = await segmentTask(`export default () => {}`, {
      outputs: [await outputFile('copied', 'copied', directory)],
    });
    expect(await executor.run(task)).toMatchObject({ state: 'succeeded' });
    expect(await readFile(task.outputs[0]!.path, 'utf8')).toBe('');
  });

  describe('batches and writeBatch', () => {
    it('copies every row as batches with a remainder, typed arrays for numeric columns, NULLs and escapes included', async () => {
      await client.query('CREATE TABLE batch_copied (LIKE source)');
      const directory = await segmentDirectory();
      const task = await segmentTask(
        `const kind = (v) => v.constructor.name;
        export default async (ctx) => {
          const seen = [];
          for await (const batch of ctx.inputs.rows.batches({ size: 3 })) {
            seen.push({
              length: batch.length,
              id: [kind(batch.columns.id), ...batch.columns.id],
              big: [kind(batch.columns.big), ...Array.from(batch.columns.big, String)],
              ratio: kind(batch.columns.ratio),
              label: kind(batch.columns.label),
              labelNulls: [...batch.nulls.label],
              bigNulls: [...batch.nulls.big],
            });
            await ctx.outputs.copied.writeBatch(batch);
          }
          return { seen, rowCount: ctx.outputs.copied.rowCount };
        }`,
        {
          inputs: [await inputFile('rows', 'source', directory)],
          outputs: [await outputFile('copied', 'batch_copied', directory)],
        },
      );
      const outcome = await executor.run(task);
      expect(outcome).toMatchObject({ state: 'succeeded' });
      expect(outcome.results).toEqual({
        seen: [
          {
            length: 3, id: ['Int32Array', 1, 2, 3], big: ['BigInt64Array', '9007199254740993', '0', '-1'],
            ratio: 'Float64Array', label: 'Array', labelNulls: [0, 1, 0], bigNulls: [0, 1, 0],
          },
          {
            length: 1, id: ['Int32Array', 4], big: ['BigInt64Array', '0'],
            ratio: 'Float64Array', label: 'Array', labelNulls: [0], bigNulls: [0],
          },
        ],
        rowCount: 4,
      });
      await load('batch_copied', task.outputs[0]!);
      const difference = await client.query(
        '(TABLE source EXCEPT ALL TABLE batch_copied) UNION ALL (TABLE batch_copied EXCEPT ALL TABLE source)',
      );
      expect(difference.rows).toEqual([]);
    });

    it('gives the values the row iterator gives for the columns that are not typed arrays', async () => {
      const directory = await segmentDirectory();
      const task = await segmentTask(
        `export default async (ctx) => {
          const rows = [];
          for await (const row of ctx.inputs.rows) rows.push(row);
          const fromBatches = [];
          for await (const b of ctx.inputs.rows.batches({ size: 2 })) {
            for (let i = 0; i < b.length; i += 1) {
              fromBatches.push(Object.fromEntries(Object.entries(b.columns).map(([name, values]) =>
                [name, b.nulls[name][i] ? null : typeof values[i] === 'bigint' ? String(values[i]) : values[i]])));
            }
          }
          const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
          return { count: fromBatches.length, same: rows.every((row, i) => same(row, fromBatches[i])) };
        }`,
        { inputs: [await inputFile('rows', 'source', directory)] },
      );
      expect(await executor.run(task)).toMatchObject({ state: 'succeeded', results: { count: 4, same: true } });
    });

    it('writes typed arrays, arrays and null masks for every numeric type, mixed with row writes in order', async () => {
      await client.query(`CREATE TABLE typed (
        seq int4, small int2, big int8, real4 float4, real8 float8, o oid, amount numeric, at timestamptz, flag bool, note text)`);
      const directory = await segmentDirectory();
      const task = await segmentTask(
        `export default async (ctx) => {
          const out = ctx.outputs.typed;
          await out.write({ seq: 0, note: 'row before' });
          await out.writeBatch({
            length: 3,
            columns: {
              seq: new Int32Array([1, 2, 3]),
              small: new Int16Array([-32768, 0, 32767]),
              big: new BigInt64Array([-9223372036854775808n, 0n, 9223372036854775807n]),
              real4: new Float32Array([1.5, 0, -2.25]),
              real8: new Float64Array([0.1, NaN, -Infinity]),
              o: new Uint32Array([4294967295, 0, 1]),
              amount: ['12345678901234567890.5', null, 7],
              at: [new Date('2024-01-02T03:04:05.678Z'), null, '2000-01-01 00:00:00+00'],
              flag: [true, false, null],
              note: ['tab\\there', 'back\\\\slash\\nnew line', '\\\\N'],
            },
            nulls: { small: [0, 1, 0], big: new Uint8Array([0, 0, 1]), real4: [false, true, false], note: [0, 0, 0] },
          });
          await out.write([4, 4]);
          await out.writeBatch({ length: 1, columns: { seq: [5] } });
          return out.rowCount;
        }`,
        { outputs: [await outputFile('typed', 'typed', directory)] },
      );
      expect(await executor.run(task)).toMatchObject({ state: 'succeeded', results: { return: 6 } });
      await load('typed', task.outputs[0]!);
      const none = {
        small: null, big: null, real4: null, real8: null, o: null, amount: null, at: null, flag: null, note: null,
      };
      const { rows } = await client.query(
        `SELECT seq, small, big::text, real4, real8, o::int8::text AS o, amount::text, at, flag, note FROM typed`,
      );
      expect(rows).toEqual([
        { seq: 0, small: null, big: null, real4: null, real8: null, o: null, amount: null, at: null, flag: null, note: 'row before' },
        {
          seq: 1, small: -32768, big: '-9223372036854775808', real4: 1.5, real8: 0.1, o: '4294967295',
          amount: '12345678901234567890.5', at: new Date('2024-01-02T03:04:05.678Z'), flag: true, note: 'tab\there',
        },
        {
          seq: 2, small: null, big: '0', real4: null, real8: NaN, o: '0',
          amount: null, at: null, flag: false, note: 'back\\slash\nnew line',
        },
        {
          seq: 3, small: 32767, big: null, real4: -2.25, real8: -Infinity, o: '1',
          amount: '7', at: new Date('2000-01-01T00:00:00Z'), flag: null, note: '\\N',
        },
        { ...none, seq: 4, small: 4 },
        { ...none, seq: 5 },
      ]);
    });

    it('reads batches across chunks: full batches, then the remainder', async () => {
      const directory = await segmentDirectory();
      const file = path.join(directory, 'many.txt');
      await writeFile(file, Array.from({ length: 20_000 }, (_, i) => `${String(i)}\tvalue ${String(i)}\n`).join(''));
      const task = await segmentTask(
        `export default async (ctx) => {
          const lengths = [];
          let sum = 0;
          let ordered = true;
          let next = 0;
          for await (const b of ctx.inputs.many.batches()) {
            lengths.push(b.length);
            for (let i = 0; i < b.length; i += 1) {
              sum += b.columns.n[i];
              if (b.columns.n[i] !== next || b.columns.t[i] !== 'value ' + next) ordered = false;
              next += 1;
            }
          }
          return { lengths, sum, ordered };
        }`,
        {
          inputs: [{
            name: 'many', path: file,
            columns: [{ name: 'n', type: 'integer', typeOid: 23 }, { name: 't', type: 'text', typeOid: 25 }],
          }],
        },
      );
      expect(await executor.run(task)).toMatchObject({
        state: 'succeeded',
        results: { lengths: [8192, 8192, 3616], sum: (20_000 * 19_999) / 2, ordered: true },
      });
    });

    it.each([
      ['an unknown column', `{ length: 1, columns: { id: [1], nope: [2] } }`, 'output "copied" has no column "nope"'],
      [
        'values of the wrong length',
        `{ length: 2, columns: { id: new Int32Array(3) } }`,
        'column "id" of a batch for output "copied" has 3 values where the batch has 2 rows',
      ],
      [
        'a null mask of the wrong length',
        `{ length: 2, columns: { id: [1, 2] }, nulls: { id: [0] } }`,
        'the nulls of column "id" of a batch for output "copied" has 1 values where the batch has 2 rows',
      ],
      ['no length', `{ columns: { id: [1] } }`, 'a batch for output "copied" needs a length: a whole number of rows'],
      [
        'a column that is not an array',
        `{ length: 1, columns: { id: 1 } }`,
        'column "id" of a batch for output "copied" must be an array or a typed array',
      ],
      [
        'a batches() size that is not a positive integer (reading)',
        `ctx.inputs.rows.batches({ size: 0 })`,
        'batches() of input "rows" takes a size that is a positive integer',
      ],
    ])('fails the segment on a batch with %s, writing none of it', async (_what, batch, message) => {
      const directory = await segmentDirectory();
      const task = await segmentTask(
        `export default async (ctx) => {
          await ctx.outputs.copied.write({ id: 1 });
          try {
            await ctx.outputs.copied.writeBatch(${batch});
          } finally {
            ctx.result('rowCount', ctx.outputs.copied.rowCount);
          }
        }`,
        {
          inputs: [await inputFile('rows', 'source', directory)],
          outputs: [await outputFile('copied', 'copied', directory)],
        },
      );
      expect(await executor.run(task)).toMatchObject({ state: 'failed', message, results: { rowCount: 1 } });
    });
  });
});

describe('JavascriptExecutor: the process pool', () => {
  const counter = `
    let calls = 0;
    export default () => ({ pid: process.pid, calls: ++calls });
  `;

  it('runs segments of a procedure one after another on the same warm process, its module imported once', async () => {
    const first = await executor.run(await segmentTask(counter));
    const second = await executor.run(await segmentTask(counter));
    const [a, b] = [first.results, second.results] as { pid: number; calls: number }[];
    expect(a?.pid).not.toBe(process.pid);
    expect(b?.pid).toBe(a?.pid);
    expect(b?.calls).toBe((a?.calls ?? 0) + 1);
  });

  it('replaces a process once it has run its share of segments', async () => {
    const recycling = new JavascriptExecutor({
      logger: silentLogger(),
      poolSize: 1,
      recycleAfter: 2,
      moduleCacheDirectory: path.join(modules, 'js-modules'),
    });
    try {
      const results: unknown[] = [];
      for (let i = 0; i < 3; i += 1) results.push((await recycling.run(await segmentTask(counter))).results);
      expect(results.map((result) => (result as { calls: number }).calls)).toEqual([1, 2, 1]);
    } finally {
      await recycling.close();
    }
  });

  it('kills a busy loop\'s process a grace period after a kill, and the pool serves the next segment', async () => {
    const abort = new AbortController();
    const task = await segmentTask(
      `export default (ctx) => { ctx.log.info('spinning'); for (;;) {} }`,
      { signal: abort.signal },
    );
    const running = executor.run(task);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const killedAt = Date.now();
    abort.abort(StopReason.killed);
    const outcome = await running;
    expect(Date.now() - killedAt).toBeLessThan(KILL_GRACE_MS + 500);
    expect(outcome).toMatchObject({ state: 'killed', message: 'killed' });
    expect(lines(outcome, 'stdout')).toEqual(['spinning']);
    expect(await executor.run(await segmentTask(counter))).toMatchObject({ state: 'succeeded' });
  });

  it('aborts ctx.signal at the timeout and fails the segment', async () => {
    const task = await segmentTask(
      `export default (ctx) => new Promise((resolve, reject) => {
        ctx.signal.addEventListener('abort', () => { console.log('aborted:', ctx.signal.reason.message); reject(ctx.signal.reason); });
      })`,
      { timeoutMs: 100 },
    );
    const outcome = await executor.run(task);
    expect(outcome).toMatchObject({ state: 'failed', message: 'timed out after 0.1 s' });
    expect(lines(outcome, 'stdout')).toEqual(['aborted: segment timeout']);
  });

  it('fails a segment whose module throws, with the stack in stderr', async () => {
    const outcome = await executor.run(
      await segmentTask(`export default async (ctx) => { throw new Error('bad: ' + ctx.params.what); }`, {
        params: { what: 'input' },
      }),
    );
    expect(outcome).toMatchObject({ state: 'failed', message: 'bad: input' });
    expect(lines(outcome, 'stderr')[0]).toBe('Error: bad: input');
    expect(lines(outcome, 'stderr')[1]).toMatch(/^\s+at .*main\.js/);
  });

  it('gives each of two concurrent segments its own console output, timers and stdout writes included', async () => {
    const chatty = `
      const pause = () => new Promise((resolve) => setTimeout(resolve, 5));
      export default async (ctx) => {
        for (let i = 0; i < 5; i += 1) {
          console.log('segment', ctx.segment, 'line', i);
          await pause();
        }
        await new Promise((resolve) => setTimeout(() => { console.error('timer of', ctx.segment); resolve(); }, 5));
        process.stdout.write('raw ' + ctx.segment + '\\n');
        ctx.log.info('log of', ctx.segment);
      }`;
    const outcomes = await Promise.all(
      [0, 1].map(async (segment) => executor.run(await segmentTask(chatty, { segment }))),
    );
    outcomes.forEach((outcome, segment) => {
      expect(outcome.state).toBe('succeeded');
      expect(lines(outcome, 'stdout')).toEqual([
        ...[0, 1, 2, 3, 4].map((i) => `segment ${String(segment)} line ${String(i)}`),
        `raw ${String(segment)}`,
        `log of ${String(segment)}`,
      ]);
      expect(lines(outcome, 'stderr')).toEqual([`timer of ${String(segment)}`]);
    });
  });

  it('reports progress and results live, and gives the module its environment and working directory (process.env and cwd too)', async () => {
    const reports: SegmentReport[] = [];
    const task = await segmentTask(
      `import { existsSync } from 'node:fs';
      export default (ctx) => {
        ctx.progress(0.25);
        ctx.result('half', 0.5);
        return {
          env: ctx.env.GREETING,
          processEnv: process.env.GREETING,
          path: ctx.env.PATH.split(':')[0],
          processPath: process.env.PATH === ctx.env.PATH,
          cwd: process.cwd() === ctx.workdir,
          frozen: Object.isFrozen(ctx.env),
          secretHidden: process.env.PROCGATE_TEST_SECRET === undefined && ctx.env.PROCGATE_TEST_SECRET === undefined,
          workdir: ctx.workdir,
          filesCopied: existsSync(ctx.workdir + '/lib/data.txt'),
          cached: import.meta.url.includes('/js-modules/'),
        };
      }`,
      {
        report: (event) => reports.push(event),
        environment: { variables: { GREETING: 'hello' }, pathPrefix: ['/opt/procedure/bin'] },
        extraFiles: { 'lib/data.txt': 'data' },
      },
    );
    const outcome = await executor.run(task);
    expect(reports).toEqual([
      { kind: 'progress', fraction: 0.25 },
      { kind: 'result', key: 'half', value: 0.5 },
    ]);
    expect(outcome.results).toEqual({
      half: 0.5,
      env: 'hello',
      processEnv: 'hello',
      path: '/opt/procedure/bin',
      processPath: true,
      cwd: true,
      frozen: true,
      secretHidden: true,
      workdir: path.join(task.directory, 'work'),
      filesCopied: true,
      cached: true,
    });
  });
});
