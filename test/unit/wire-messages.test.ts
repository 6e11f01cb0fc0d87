import { serialize } from 'pg-protocol';
import { describe, expect, it } from 'vitest';
import { parseBackendKeyData } from '../../src/wire/backend-key-data.js';
import { readMessageLength } from '../../src/wire/message-header.js';
import { parseParameterStatus } from '../../src/wire/parameter-status.js';
import { parseParse, writeParse } from '../../src/wire/parse.js';
import { parseQuery, writeQuery } from '../../src/wire/query.js';

describe('readMessageLength', () => {
  it('reads the Int32 after the type byte at any offset', () => {
    const bytes = Buffer.from([0xff, 0x51, 0, 0, 0, 0x0d, 0x64, 0x00, 0x01, 0x00, 0x04]);
    expect(readMessageLength(bytes, 1)).toBe(13);
    expect(readMessageLength(bytes, 6)).toBe(0x10004);
  });

  it('reads a negative length as negative, for the caller to refuse', () => {
    expect(readMessageLength(Buffer.from([0x51, 0xff, 0xff, 0xff, 0xfe]), 0)).toBe(-2);
  });
});

describe('Query', () => {
  it('writes exact bytes, its length counting UTF-8 bytes', () => {
    expect(writeQuery('SELECT 1').toString('latin1')).toBe('Q\0\0\0\x0dSELECT 1\0');
    expect([...writeQuery('SELECT \'é\'')]).toEqual([
      0x51, 0, 0, 0, 0x10, ...Buffer.from('SELECT \'', 'latin1'), 0xc3, 0xa9, 0x27, 0,
    ]);
  });

  it('writes what pg sends', () => {
    expect(writeQuery('SELECT 2; SELECT 3').equals(serialize.query('SELECT 2; SELECT 3'))).toBe(true);
  });

  it('reads the text without its terminator', () => {
    expect(parseQuery(Buffer.from('Q\0\0\0\x0dSELECT 1\0', 'latin1'))).toBe('SELECT 1');
    expect(parseQuery(writeQuery('SELECT \'é\''))).toBe('SELECT \'é\'');
    expect(parseQuery(Buffer.from('Q\0\0\0\x05\0', 'latin1'))).toBe('');
  });
});

describe('Parse', () => {
  /** Parse of statement "s1", text "SELECT $1", one parameter of type int4 (OID 23). */
  const bytes = Buffer.from('P\0\0\0\x17s1\0SELECT $1\0\0\x01\0\0\0\x17', 'latin1');

  it('reads the text, keeping name and parameter types as views of the message', () => {
    const parse = parseParse(bytes);
    expect(parse.text).toBe('SELECT $1');
    expect(parse.name.toString('latin1')).toBe('s1\0');
    expect([...parse.parameterTypes]).toEqual([0, 1, 0, 0, 0, 23]);
    expect(parse.name.buffer).toBe(bytes.buffer);
    expect(parse.parameterTypes.buffer).toBe(bytes.buffer);
  });

  it('reads the unnamed statement without parameter types', () => {
    const parse = parseParse(serialize.parse({ text: 'SELECT 1' }));
    expect(parse.text).toBe('SELECT 1');
    expect([...parse.name]).toEqual([0]);
    expect([...parse.parameterTypes]).toEqual([0, 0]);
  });

  it('writes back the exact bytes it read, and what pg sends', () => {
    expect(writeParse(parseParse(bytes)).equals(bytes)).toBe(true);
    expect(bytes.equals(serialize.parse({ name: 's1', text: 'SELECT $1', types: [23] }))).toBe(true);
  });

  it('writes new text with the client\'s name and parameter types', () => {
    const rewritten = writeParse({ ...parseParse(bytes), text: 'SELECT $1::int' });
    expect(rewritten.toString('latin1')).toBe('P\0\0\0\x1cs1\0SELECT $1::int\0\0\x01\0\0\0\x17');
  });
});

describe('ParameterStatus', () => {
  it('reads the name and value', () => {
    const bytes = Buffer.from('S\0\0\0\x23standard_conforming_strings\0on\0', 'latin1');
    expect(parseParameterStatus(bytes)).toEqual({ name: 'standard_conforming_strings', value: 'on' });
  });

  it('reads an empty value and UTF-8 text', () => {
    expect(parseParameterStatus(Buffer.from('S\0\0\0\x0csearch\0\0', 'latin1'))).toEqual({
      name: 'search',
      value: '',
    });
    const bytes = Buffer.concat([Buffer.from('S\0\0\0\x18application_name\0', 'latin1'), Buffer.from('é\0')]);
    expect(parseParameterStatus(bytes)).toEqual({ name: 'application_name', value: 'é' });
  });
});

describe('BackendKeyData', () => {
  it('reads the process id and secret key as one view of the message', () => {
    const bytes = Buffer.from([0x4b, 0, 0, 0, 12, 0, 0, 0x30, 0x39, 0xde, 0xad, 0xbe, 0xef]);
    const key = parseBackendKeyData(bytes);
    expect([...key]).toEqual([0, 0, 0x30, 0x39, 0xde, 0xad, 0xbe, 0xef]);
    expect(key.buffer).toBe(bytes.buffer);
  });

  it('reads a longer secret key of protocol 3.2', () => {
    const secret = Buffer.alloc(32, 7);
    const bytes = Buffer.concat([Buffer.from([0x4b, 0, 0, 0, 40, 0, 0, 0, 1]), secret]);
    expect(parseBackendKeyData(bytes).equals(Buffer.concat([Buffer.from([0, 0, 0, 1]), secret]))).toBe(true);
  });
});
