import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nonNumericColumns, readStagedRows } from '../../src/builtins/learners/staged-rows.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase('staged_rows');
  pool = new pg.Pool({ ...db.direct, max: 2 });
});

afterAll(async () => {
  await pool.end();
  await db.drop();
});

/** What PostgreSQL's ORDER BY gives, every value as float8 text (NaN, -0 and Infinity included). */
async function orderedByPostgres(
  table: string,
  label: { column: string; as: 'text' | 'float8' } | undefined,
  features: string[],
): Promise<unknown[][]> {
  const columns = [...(label === undefined ? [] : [`${label.column}::${label.as}`]), ...features.map((f) => `${f}::float8`)];
  const order = columns.map((c, i) => (i === 0 && label?.as === 'text' ? `${c} COLLATE "C"` : c));
  const { rows } = await pool.query<{ row: unknown[] }>(
    `SELECT ARRAY[${columns.map((c) => `${c}::text`).join(', ')}] AS row FROM ${table}
      WHERE ${columns.map((c) => `${c} IS NOT NULL`).join(' AND ')}
      ORDER BY ${order.join(', ')}`,
  );
  return rows.map(({ row }) => row);
}

/** A double as PostgreSQL prints a float8. */
function float8Text(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  return Object.is(value, -0) ? '-0' : String(value);
}

describe('readStagedRows', () => {
  it('reads every row by binary COPY in PostgreSQL\'s ORDER BY order, with NULLs left out and counted', async () => {
    // 20,000 rows span many COPY chunks; integer, numeric and real columns are read as doubles.
    await pool.query(`
      CREATE TABLE mixed AS
      SELECT (ARRAY['b', 'a', 'é', 'c c'])[1 + g % 4] AS label,
             (g * 7919 % 1000)::int AS f1, ((g % 37) / 7.0)::numeric AS f2, (g % 3)::real * 0.1 AS f3
        FROM generate_series(1, 20000) g`);
    await pool.query(`INSERT INTO mixed VALUES
      (NULL, 1, 1, 1), ('a', NULL, 1, 1), ('a', 1, NULL, 1),
      ('a', 5, 'NaN', 0), ('a', 5, 'Infinity', 0), ('a', 5, '-Infinity', 0), ('a', 5, 0, 'NaN')`);
    await pool.query(`INSERT INTO mixed VALUES ('a', 6, 0, '-0'::real), ('a', 6, 0, '0'::real)`);
    const label = { column: 'label', as: 'text' as const };
    const read = await readStagedRows(pool, { from: 'mixed', label, features: ['f1', 'f2', 'f3'] });
    expect(read.skipped).toBe(3);
    const expected = await orderedByPostgres('mixed', label, ['f1', 'f2', 'f3']);
    expect(read.x).toHaveLength(20006);
    expect(read.x.map((row, i) => [read.labels[i], ...row.map(float8Text)])).toEqual(expected);
  });

  it('gives the same rows in the same order whatever order the table holds them in, a float8 label or none', async () => {
    await pool.query(`CREATE TABLE points AS SELECT (g % 11)::float8 AS y, (g % 5)::float8 AS a, (g * 31 % 17)::float8 AS b
                        FROM generate_series(1, 3000) g`);
    await pool.query('CREATE TABLE shuffled AS SELECT * FROM points ORDER BY md5(a::text || b::text || y::text)');
    const query = { label: { column: 'y', as: 'float8' as const }, features: ['a', 'b'] };
    const first = await readStagedRows(pool, { from: 'points', ...query });
    const second = await readStagedRows(pool, { from: 'shuffled', ...query });
    expect(second).toEqual(first);
    expect(first.labels.slice(0, 3)).toEqual([0, 0, 0]);
    expect(first.x.map((row, i) => [first.labels[i] as number, ...row].map(float8Text))).toEqual(
      await orderedByPostgres('points', query.label, ['a', 'b']),
    );
    const unlabelled = await readStagedRows(pool, { from: 'shuffled', features: ['b', 'a'] });
    expect(unlabelled.labels).toEqual([]);
    expect(unlabelled.x.map((row) => row.map(float8Text))).toEqual(await orderedByPostgres('points', undefined, ['b', 'a']));
  });

  it('fails with PostgreSQL\'s error when the relation is not there', async () => {
    await expect(readStagedRows(pool, { from: 'nowhere', features: ['a'] })).rejects.toMatchObject({ code: '42P01' });
  });
});

describe('nonNumericColumns', () => {
  // The run-time second line behind the EXECUTE check (a TABLE query's columns may change in between): all bad columns named.
  it('names every column that is not numeric, in order', () => {
    const columns = [
      { name: 'calls', type: 'integer', typeOid: 23 },
      { name: 'plan', type: 'text', typeOid: 25 },
      { name: 'minutes', type: 'numeric', typeOid: 1700 },
      { name: 'active', type: 'boolean', typeOid: 16 },
    ];
    expect(nonNumericColumns(columns)).toBe('"plan" (text), "active" (boolean)');
    expect(nonNumericColumns(columns.filter((column) => column.typeOid !== 25 && column.typeOid !== 16))).toBe('');
  });
});
