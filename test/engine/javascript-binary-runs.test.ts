import { describe, expect, it } from 'vitest';
import { useEngine } from '../support/engine-fixture.js';
import { useProxiedDatabase } from '../support/test-database.js';

const t = useProxiedDatabase('engine_javascript_binary', { statements: true });

interface RunRow {
  state: string;
  error: string | null;
  results: Record<string, unknown> | null;
}

const fixture = useEngine<RunRow>(t);
const { execute, finished } = fixture;

/** A pass-through by rows or by batches that also says which table files its segment had. */
const PASS_THROUGH = (batches: boolean): string => `
  import { readdirSync } from 'node:fs';
  import path from 'node:path';
  export default async (ctx) => {
    const input = ctx.inputs[0];
    const output = ctx.outputs[0];
    ${batches ? 'for await (const batch of input.batches({ size: 2 })) await output.writeBatch(batch);' : 'for await (const row of input) await output.write(row);'}
    return { files: readdirSync(path.join(ctx.workdir, '..')).filter((name) => /^(in|out)put-/.test(name)).sort() };
  };`;

async function sameRows(source: string, copy: string, columns = '*'): Promise<number> {
  const { rows } = await fixture.client.query<{ n: number }>(`
    SELECT count(*)::int AS n FROM (
      (SELECT ${columns} FROM ${source} EXCEPT ALL SELECT ${columns} FROM ${copy})
      UNION ALL (SELECT ${columns} FROM ${copy} EXCEPT ALL SELECT ${columns} FROM ${source})) d`);
  return rows[0]!.n;
}

describe('javascript table files in binary COPY', () => {
  it('passes every type with a binary form through a run unchanged, by rows and by batches', async () => {
    // Values a module's JavaScript values hold exactly: timestamps to the ms, json compared as jsonb.
    await fixture.client.query(`
      CREATE TABLE every_type (
        b bool, by bytea, nm name, i8 int8, i2 int2, i4 int4, t text, o oid, j json, f4 float4, f8 float8,
        bp char(3), vc varchar(10), d date, ts timestamp, tz timestamptz, n numeric, n2 numeric(10, 2), u uuid, jb jsonb
      );
      INSERT INTO every_type VALUES
        (true, '\\x00ff0a5c09', 'a name', 9007199254740993, -32768, -2147483648, E'tab\\there\\nnew line\\\\ héllo ✓ 😀', 4294967295,
         '{"a": [1, "x"]}', 0.1, 0.1, 'ab', 'varchar', '2024-02-29', '2024-06-30 23:59:59.123', '2024-01-02 03:04:05.678+00',
         12345678901234567890.123456789, 12.5, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"b": 1, "a": [null, {"k": []}]}'),
        (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
        (false, '', '', -9223372036854775808, 32767, 2147483647, '', 0, '"s"', 'NaN', '-Infinity', '', '', '0044-03-15 BC',
         '1969-12-31 23:59:59.999', '1899-05-06 07:08:09.001+03', -0.000000001, -0.5, '00000000-0000-0000-0000-000000000000', '[]'),
        (true, '\\x5c4e', repeat('x', 63), 9223372036854775807, 0, 0, E'\\\\N', 1, '[null]', '-1.5e30', 1e-300, 'xyz', 'é✓', 'infinity',
         'infinity', '-infinity', 'NaN', 0, 'ffffffff-ffff-ffff-ffff-ffffffffffff', '"just a string"'),
        (false, '\\x00', 'n', 0, 1, 1, ' spaced ', 2, '1.50', 3.4028235e38, 5e-324, 'a', 'b', '-infinity', '-infinity', 'infinity',
         'Infinity', 99999999.99, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', '12.50'),
        (true, '\\x01', 'n', -1, -1, -1, 'x', 3, '{}', -0, -0, 'a', 'b', '1970-01-01', '0044-03-15 12:00:00 BC',
         '1999-12-31 23:59:59.999+00', '-Infinity', -99999999.99, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a13', '{}')`);
    const columns = 'b, by, nm, i8, i2, i4, t, o, j::jsonb, f4, f8, bp, vc, d, ts, tz, n, n2, u, jb';
    for (const batches of [false, true]) {
      const procedure = batches ? 'through_batches' : 'through_rows';
      await fixture.client.query(`CREATE PROCEDURE ${procedure} LANGUAGE javascript FILES ('main.js' = $1)`, [PASS_THROUGH(batches)]);
      await fixture.client.query(`CREATE TABLE ${procedure}_out (LIKE every_type)`);
      const run = await finished(await execute(`EXECUTE PROCEDURE ${procedure}(t => TABLE (every_type)) INTO ${procedure}_out`));
      expect(run).toMatchObject({ state: 'succeeded', results: { 0: { files: ['input-1.bin', 'output-1.bin'] } } });
      expect(await sameRows('every_type', `${procedure}_out`, columns)).toBe(0);
    }
  });

  it('keeps a file of a type without a binary form in text', async () => {
    await fixture.client.query(`
      CREATE TABLE other_types AS
        SELECT g AS id, g * interval '1 hour 2 minutes' AS span, ARRAY[g, NULL, g + 1] AS pair, ('(' || g || ',1)')::point AS p
          FROM generate_series(1, 5) g`);
    await fixture.client.query(`CREATE TABLE other_out (id int, span interval, pair int[])`);
    const run = await finished(
      await execute('EXECUTE PROCEDURE through_rows(t => TABLE (SELECT id, span, pair FROM other_types)) INTO other_out'),
    );
    expect(run).toMatchObject({ state: 'succeeded', results: { 0: { files: ['input-1.txt', 'output-1.txt'] } } });
    expect(await sameRows('(SELECT id, span, pair FROM other_types) s', 'other_out')).toBe(0);
  });

  it('goes on in text from a value only PostgreSQL can read, keeping every row before it', async () => {
    await fixture.client.query(`
      CREATE PROCEDURE mixed LANGUAGE javascript FILES ('main.js' = $js$
        export default async (ctx) => {
          const out = ctx.outputs[0];
          for (let i = 0; i < 20000; i += 1) await out.write({ id: i, at: new Date(Date.UTC(2024, 0, 1) + i * 1000), note: 'é\\t' + i });
          await out.writeBatch({ length: 2, columns: { id: new Int32Array([20000, 20001]), at: ['2024-01-01 12:00:00+00', new Date(0)] } });
          await out.write({ id: 20002, at: 'epoch', note: 'after' });
          return out.rowCount;
        };
      $js$)`);
    await fixture.client.query('CREATE TABLE mixed_out (id int, at timestamptz, note text)');
    const run = await finished(await execute('EXECUTE PROCEDURE mixed() INTO mixed_out WITH (segments = 1)'));
    expect(run).toMatchObject({ state: 'succeeded', results: { 0: { return: 20003 } } });
    const { rows } = await fixture.client.query(`
      SELECT count(*)::int AS n, count(*) FILTER (WHERE at = timestamptz '2024-01-01 00:00:00+00' + id * interval '1 second'
                                                  AND note = E'é\\t' || id)::int AS exact
        FROM mixed_out WHERE id < 20000`);
    expect(rows).toEqual([{ n: 20000, exact: 20000 }]);
    const last = await fixture.client.query(`SELECT id, at, note FROM mixed_out WHERE id >= 20000 ORDER BY id`);
    expect(last.rows).toEqual([
      { id: 20000, at: new Date('2024-01-01T12:00:00Z'), note: null },
      { id: 20001, at: new Date(0), note: null },
      { id: 20002, at: new Date(0), note: 'after' },
    ]);
  });
});
