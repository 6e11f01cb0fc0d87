import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeNumeric } from '../../src/engine/executors/javascript-binary-numbers.js';
import {
  binaryBatchDecoder,
  binaryBatchEncoder,
  binaryRowDecoder,
  binaryRowEncoder,
} from '../../src/engine/executors/javascript-binary-rows.js';
import { binaryToText } from '../../src/engine/executors/javascript-binary-text.js';
import { binaryColumns } from '../../src/engine/executors/javascript-binary-values.js';
import { BinaryWriter, HEADER, TRAILER, TupleReader } from '../../src/engine/executors/javascript-copy-binary.js';
import { batchDecoder, batchEncoder } from '../../src/engine/executors/javascript-copy-batches.js';
import { rowDecoder, rowEncoder } from '../../src/engine/executors/javascript-copy-text.js';
import type { TableColumn } from '../../src/engine/segment-task.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

let db: TestDatabase;
let client: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase('javascript_copy_binary');
  client = new pg.Client(db.direct);
  await client.connect();
  // Every supported type, with the values that are hard to get right: NULLs, extremes, infinities,
  // numerics of every scale and sign, times before 2000 and 1970, BC, empty and multibyte text.
  await client.query(`
    CREATE TABLE every_type (
      b bool, by bytea, nm name, i8 int8, i2 int2, i4 int4, t text, o oid, j json, f4 float4, f8 float8,
      bp char(3), vc varchar(10), d date, ts timestamp, tz timestamptz, n numeric, n2 numeric(10, 2), u uuid, jb jsonb
    );
    INSERT INTO every_type VALUES
      (true, '\\x00ff0a5c09', 'a name', 9007199254740993, -32768, -2147483648, E'tab\\there\\nnew line\\\\ héllo ✓ 😀', 4294967295,
       '{"a": [1, "x"],  "s": "q\\"uote"}', 0.1, 0.1, 'ab', 'varchar', '2024-02-29', '2024-06-30 23:59:59.123456',
       '2024-01-02 03:04:05.678901+00', 12345678901234567890.123456789, 12.5, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
       '{"b": 1, "a": [null, {"k": []}]}'),
      (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
      (false, '', '', -9223372036854775808, 32767, 2147483647, '', 0, '"s"', 'NaN', '-Infinity', '', '', '0001-01-01 BC',
       '1969-12-31 23:59:59.999999', '1899-05-06 07:08:09.000001+03', -0.000000001, -0.5, '00000000-0000-0000-0000-000000000000', '[]'),
      (true, '\\x5c4e', repeat('x', 63), 9223372036854775807, 0, 0, E'\\\\N', 1, 'null', '-1.5e30', 1e-300, 'xyz', 'é✓', 'infinity',
       'infinity', '-infinity', 'NaN', 0, 'ffffffff-ffff-ffff-ffff-ffffffffffff', '"just a string"'),
      (false, '\\x00', 'n', 0, 1, 1, ' leading and trailing ', 2, '1.50', 3.4028235e38, 5e-324, 'a', 'b', '-infinity',
       '-infinity', 'infinity', 'Infinity', 99999999.99, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', '12.50'),
      (true, '\\x01', 'n', -1, -1, -1, 'x', 3, '{}', -0, -0, 'a', 'b', '1970-01-01', '0044-03-15 12:00:00 BC',
       '1999-12-31 23:59:59.9995+00', '-Infinity', -99999999.99, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a13', '{}'),
      (true, '\\x01', 'n', 4294967296, 2, 2, 'y', 4, '[1,2]', 1, 1, 'a', 'b', '2000-01-01', '2000-01-01 00:00:00',
       '2262-04-11 23:47:16.854775+00', 1e100, 0.01, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a14', '1e3'),
      (true, '\\x01', 'n', -4294967297, 3, 3, 'z', 5, '0', 1, 1, 'a', 'b', '99999-12-31', '0099-12-31 23:59:59',
       '0050-06-15 00:00:00+00', 0.00001000, 100, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a15', 'true')`);
});

afterAll(async () => {
  await client.end();
  await db.drop();
});

async function columnsOf(table: string): Promise<TableColumn[]> {
  const { rows } = await client.query<{ name: string; type: string; type_oid: number }>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, atttypid::int AS type_oid
       FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [table],
  );
  return rows.map((row) => ({ name: row.name, type: row.type, typeOid: row.type_oid }));
}

async function copyOut(query: string, options = ''): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(
    client.query(copyTo(`COPY (${query}) TO STDOUT ${options}`)),
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk);
        done();
      },
    }),
  );
  return Buffer.concat(chunks);
}

async function copyIn(table: string, data: Buffer | string, options = '(FORMAT binary)'): Promise<void> {
  await pipeline(Readable.from([data]), client.query(copyFrom(`COPY ${table} FROM STDIN ${options}`)));
}

/** Tuples of a binary file, fed in chunks of `size` bytes so that fields are cut everywhere. */
type EachTuple = (b: Buffer, s: Int32Array, l: Int32Array) => void;

function tuples(bytes: Buffer, count: number, size: number, each: EachTuple): void {
  const reader = new TupleReader(count);
  for (let at = 0; at < bytes.length; at += size) {
    reader.feed(bytes.subarray(at, at + size), (buffer) => each(buffer, reader.starts, reader.lengths));
  }
  reader.finish();
}

function textRows(text: string, columns: readonly TableColumn[]): Record<string, unknown>[] {
  const decode = rowDecoder(columns.map((column) => column.name), columns.map((column) => pg.types.getTypeParser(column.typeOid, 'text')));
  return text.split('\n').slice(0, -1).map(decode);
}

describe('binary COPY', () => {
  it('has a binary form for every type here, and none for the others', async () => {
    expect(binaryColumns(await columnsOf('every_type'))).toBe(true);
    expect(binaryColumns([{ typeOid: 1186 }])).toBe(false); // interval
    expect(binaryColumns([{ typeOid: 1007 }])).toBe(false); // integer[]
  });

  it('decodes rows into the values pg\'s text parsers give, whatever the chunk size', async () => {
    const columns = await columnsOf('every_type');
    const expected = textRows((await copyOut('SELECT * FROM every_type')).toString('utf8'), columns);
    const binary = await copyOut('SELECT * FROM every_type', '(FORMAT binary)');
    for (const size of [1, 3, 7, 64, 1 << 20]) {
      const rows: Record<string, unknown>[] = [];
      const decode = binaryRowDecoder(columns);
      tuples(binary, columns.length, size, (b, s, l) => rows.push(decode(b, s, l)));
      expect(rows).toEqual(expected);
    }
  });

  it('decodes batches as the text batches, typed arrays included', async () => {
    const columns = await columnsOf('every_type');
    const parsers = columns.map((column) => pg.types.getTypeParser(column.typeOid, 'text'));
    const text = (await copyOut('SELECT * FROM every_type')).toString('utf8').split('\n').slice(0, -1);
    const fromText = batchDecoder(columns, parsers, 3);
    const expected = [];
    for (let from = 0; from < text.length; ) {
      from = fromText.add(text, from);
      if (fromText.full()) expected.push(fromText.take());
    }
    expected.push(fromText.take());
    const fromBinary = binaryBatchDecoder(columns, 3);
    const batches = [];
    tuples(await copyOut('SELECT * FROM every_type', '(FORMAT binary)'), columns.length, 5, (b, s, l) => {
      fromBinary.add(b, s, l);
      if (fromBinary.full()) batches.push(fromBinary.take());
    });
    batches.push(fromBinary.take());
    // float4 columns of a batch hold the float4 itself, whichever the format.
    expect(batches).toEqual(expected);
  });

  it('writes rows and batches as PostgreSQL loads their text, and turns into that text when it must go on in text', async () => {
    const columns = await columnsOf('every_type');
    for (const table of ['from_binary', 'from_text', 'from_converted']) await client.query(`CREATE TABLE ${table} (LIKE every_type)`);
    // Text cannot write a Date before year 1 (it has no BC): binary can, as the last test shows.
    const binary = await copyOut(`SELECT * FROM every_type WHERE coalesce(d, ts) IS NULL OR (d > '0001-12-31' AND ts > '0001-12-31')`, '(FORMAT binary)');
    const rows: Record<string, unknown>[] = [];
    const decode = binaryRowDecoder(columns);
    tuples(binary, columns.length, 1 << 20, (b, s, l) => rows.push(decode(b, s, l)));
    const out = new BinaryWriter();
    out.bytes(HEADER);
    const encodeRow = binaryRowEncoder('output "t"', columns);
    for (const row of rows) expect(encodeRow(row, out)).toBe(true);
    const batches = binaryBatchDecoder(columns, 100);
    tuples(binary, columns.length, 1 << 20, (b, s, l) => batches.add(b, s, l));
    const batch = batches.take();
    expect(binaryBatchEncoder('output "t"', columns)(batch, out)).toBe(rows.length);
    out.bytes(TRAILER);
    const bytes = out.take();
    await copyIn('from_binary', bytes);
    const encodeText = rowEncoder('output "t"', columns);
    await copyIn('from_text', rows.map(encodeText).join('') + batchEncoder('output "t"', columns)(batch).text, '');
    await copyIn('from_converted', binaryToText(columns)(bytes), '');
    // json keeps its text, and has no equality: compared as jsonb.
    const rowsOf = (table: string): string => `SELECT ${columns.map((c) => (c.name === 'j' ? 'j::jsonb' : c.name)).join(', ')} FROM ${table}`;
    for (const table of ['from_binary', 'from_converted']) {
      const difference = await client.query(`
        SELECT count(*)::int AS n FROM ((${rowsOf('from_text')} EXCEPT ALL ${rowsOf(table)})
          UNION ALL (${rowsOf(table)} EXCEPT ALL ${rowsOf('from_text')})) d`);
      expect(difference.rows).toEqual([{ n: 0 }]);
    }
    expect((await client.query('SELECT count(*)::int AS n FROM from_binary')).rows).toEqual([{ n: rows.length * 2 }]);
  });

  it.each([
    '0', '-0', '1.50', '-0.0015', '1e3', '1.5E-7', '12.3400e1', '.5', '5.', '00012.000', '1e+21', '-12345678901234567890.123456789',
    '0.00001000', '10000', '99990000', '1e-20', 'NaN',
  ])('writes numeric %s as numeric_in reads it, display scale included', async (text) => {
    const out = new BinaryWriter();
    expect(writeNumeric(text, out)).toBe(true);
    const { rows } = await client.query<{ sent: Buffer }>('SELECT numeric_send($1::numeric) AS sent', [text]);
    expect(out.take().subarray(4)).toEqual(rows[0]!.sent);
  });

  it('writes numeric infinities (their display scale is not read)', async () => {
    for (const text of ['Infinity', '-Infinity']) {
      const out = new BinaryWriter();
      expect(writeNumeric(text, out)).toBe(true);
      const { rows } = await client.query<{ sent: Buffer }>('SELECT numeric_send($1::numeric) AS sent', [text]);
      expect(out.take().subarray(4, 10)).toEqual(rows[0]!.sent.subarray(0, 6));
    }
  });

  it('leaves to text the values whose field PostgreSQL decides', async () => {
    const columns = await columnsOf('every_type');
    const encode = binaryRowEncoder('t', columns);
    const out = new BinaryWriter();
    for (const row of [{ tz: '2024-01-01 00:00:00+00' }, { i4: 1.5 }, { i2: 40000 }, { n: '1,5' }, { f8: '1' }, { u: 'A0EEBC999C0B4EF8BB6D6BB9BD380A11' }, { by: '\\x00' }]) {
      expect(encode(row, out)).toBe(false);
      expect(out.length).toBe(0);
    }
    expect(encode({ i4: '-12', i8: 2 ** 60 + 2 ** 10, n: 7, b: 1, tz: Infinity, d: -Infinity }, out)).toBe(true);
    const bc = new Date(0);
    bc.setFullYear(-43, 2, 15);
    bc.setHours(12, 0, 0, 0);
    expect(encode({ i4: 1, d: bc, ts: bc }, out)).toBe(true);
    await client.query('CREATE TABLE written (LIKE every_type)');
    await copyIn('written', Buffer.concat([HEADER, out.take(), TRAILER]));
    const { rows } = await client.query(`SELECT i4, i8::text, n::text, b, tz::text, d::text, ts::text FROM written ORDER BY i4`);
    expect(rows).toEqual([
      { i4: -12, i8: String(2n ** 60n + 2n ** 10n), n: '7', b: true, tz: 'infinity', d: '-infinity', ts: null },
      { i4: 1, i8: null, n: null, b: null, tz: null, d: '0044-03-15 BC', ts: '0044-03-15 12:00:00 BC' },
    ]);
  });
});
