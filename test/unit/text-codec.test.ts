import { describe, expect, it } from 'vitest';
import { codecFor, UTF8_CODEC } from '../../src/wire/text-codec.js';
import { parseQuery, writeQuery } from '../../src/wire/query.js';

describe('codecFor', () => {
  it('reads and writes text in PostgreSQL client encodings, byte for byte', () => {
    const cases: Array<[string, string, number[]]> = [
      ['LATIN1', 'café', [0x63, 0x61, 0x66, 0xe9]],
      ['WIN1252', '€', [0x80]],
      ['LATIN9', '€', [0xa4]],
      ['KOI8R', 'я', [0xd1]],
      ['EUC_JP', '日本', [0xc6, 0xfc, 0xcb, 0xdc]],
      ['SJIS', 'ソ', [0x83, 0x5c]],
      ['GB18030', '中', [0xd6, 0xd0]],
      ['UHC', '한', [0xc7, 0xd1]],
    ];
    for (const [name, text, bytes] of cases) {
      const codec = codecFor(name)!;
      expect(codec.decode(Buffer.from(bytes)), name).toBe(text);
      expect([...codec.encode(text)], name).toEqual(bytes);
    }
    expect(codecFor('UTF8')).toBe(UTF8_CODEC);
  });

  it('reads encodings iconv-lite lacks byte for byte when ASCII is safe in them, and refuses the others', () => {
    const bytes = Buffer.from([0x53, 0x8e, 0xa2, 0xa1, 0xa1]);
    const codec = codecFor('EUC_TW')!;
    expect(codec.encode(codec.decode(bytes)).equals(bytes)).toBe(true);
    expect(codecFor('JOHAB')).toBeUndefined();
  });

  it('carries a Query text in the client encoding', () => {
    const codec = codecFor('LATIN1')!;
    const message = writeQuery("SELECT 'é'", codec);
    expect(message.subarray(5).equals(Buffer.from("SELECT '\xe9'\0", 'latin1'))).toBe(true);
    expect(message.readInt32BE(1)).toBe(message.length - 1);
    expect(parseQuery(message, codec)).toBe("SELECT 'é'");
  });
});
