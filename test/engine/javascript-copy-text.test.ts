import { describe, expect, it } from 'vitest';
import {
  decodeRow,
  escapeField,
  fieldEncoder,
  rowEncoder,
  unescapeField,
} from '../../src/engine/executors/javascript-copy-text.js';

const TEXT = 25;
const INT4 = 23;
const JSONB = 3802;
const TIMESTAMP = 1114;
const DATE = 1082;
const TIMESTAMPTZ = 1184;
const TEXT_ARRAY = 1009;
const JSONB_ARRAY = 3807;
const BYTEA = 17;

describe('COPY text format', () => {
  it('resolves every backslash escape PostgreSQL documents, and escapes what would end a field or a line', () => {
    expect(unescapeField('a\\tb\\\\c\\nd\\re\\b\\f\\v\\101\\x41\\x4a\\q')).toBe('a\tb\\c\nd\re\b\f\vAAJq');
    const text = 'tab\there\nline\\slash\rcr';
    expect(escapeField(text)).toBe('tab\\there\\nline\\\\slash\\rcr');
    expect(unescapeField(escapeField(text))).toBe(text);
  });

  it('decodes a line into a row, \\N as NULL, and rejects a line with the wrong number of fields', () => {
    const identity = (text: string): unknown => text;
    expect(decodeRow('\\N\t\\\\N\t', ['a', 'b', '__proto__'], [identity, identity, identity])).toEqual(
      Object.fromEntries([['a', null], ['b', '\\N'], ['__proto__', '']]),
    );
    expect(decodeRow('', [], [])).toEqual({});
    expect(() => decodeRow('1\t2', ['a'], [identity])).toThrow('a row with 2 fields where 1 columns were expected');
  });

  it('encodes scalars by their JavaScript type and, where it matters, the column type', () => {
    expect(fieldEncoder(TEXT)(null)).toBe('\\N');
    expect(fieldEncoder(TEXT)(undefined)).toBe('\\N');
    expect(fieldEncoder(TEXT)('a\tb')).toBe('a\\tb');
    expect(fieldEncoder(INT4)(12n)).toBe('12');
    expect(fieldEncoder(INT4)(true)).toBe('t');
    expect(fieldEncoder(BYTEA)(Buffer.from([0, 255, 92]))).toBe('\\\\x00ff5c');
    expect(fieldEncoder(BYTEA)(new Uint8Array([1, 2]).subarray(1))).toBe('\\\\x02');
    expect(fieldEncoder(JSONB)('s')).toBe('"s"');
    expect(fieldEncoder(JSONB)([1, { a: 'x\ty' }])).toBe('[1,{"a":"x\\\\ty"}]');
    expect(fieldEncoder(TEXT)({ a: 1 })).toBe('{"a":1}');
    expect(fieldEncoder(TEXT)({ toPostgres: () => '1 hour' })).toBe('1 hour');
    const date = new Date(2024, 1, 29, 3, 4, 5, 6);
    expect(fieldEncoder(TIMESTAMPTZ)(date)).toBe(date.toISOString());
    expect(fieldEncoder(TIMESTAMP)(date)).toBe('2024-02-29 03:04:05.006');
    expect(fieldEncoder(DATE)(date)).toBe('2024-02-29');
    expect(() => fieldEncoder(TIMESTAMP)(new Date(NaN))).toThrow(RangeError);
    expect(() => fieldEncoder(TEXT)(Symbol('s'))).toThrow('a symbol cannot be written to a table');
  });

  it('encodes arrays as PostgreSQL array literals, every element quoted', () => {
    expect(fieldEncoder(TEXT_ARRAY)(['a"b', 'c\\d', null, 'NULL', ''])).toBe('{"a\\\\"b","c\\\\\\\\d",NULL,"NULL",""}');
    expect(fieldEncoder(INT4)([[1, 2], [3, undefined]])).toBe('{{"1","2"},{"3",NULL}}');
    expect(fieldEncoder(JSONB_ARRAY)([{ a: 1 }, 'x'])).toBe('{"{\\\\"a\\\\":1}","\\\\"x\\\\""}');
    expect(fieldEncoder(TEXT_ARRAY)([])).toBe('{}');
  });

  it('encodes rows by column name or by position, and rejects what fits no column', () => {
    const encode = rowEncoder('output "t"', [
      { name: 'id', type: 'integer', typeOid: INT4 },
      { name: 'label', type: 'text', typeOid: TEXT },
    ]);
    expect(encode({ label: 'x' })).toBe('\\N\tx\n');
    expect(encode([1])).toBe('1\t\\N\n');
    expect(() => encode({ id: 1, other: 2 })).toThrow('output "t" has no column "other"');
    expect(() => encode([1, 2, 3])).toThrow('a row of 3 values for output "t", which has 2 columns');
    expect(() => encode('1\t2')).toThrow('a row for output "t" must be an object or an array');
  });
});
