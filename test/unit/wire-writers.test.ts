import { Parser } from 'pg-protocol/dist/parser.js';
import { describe, expect, it } from 'vitest';
import { PgError } from '../../src/errors/pg-error.js';
import { withoutChannelBinding, writeAuthenticationSasl } from '../../src/wire/authentication.js';
import {
  ErrorFieldCode,
  readErrorFields,
  writeErrorFields,
  writeErrorResponse,
} from '../../src/wire/error-response.js';

function parseOne(bytes: Buffer): Record<string, unknown> {
  const messages: Record<string, unknown>[] = [];
  new Parser().parse(bytes, (message) => messages.push(message as unknown as Record<string, unknown>));
  expect(messages).toHaveLength(1);
  return messages[0]!;
}

describe('writeErrorResponse', () => {
  it('writes every field pg-protocol reads back', () => {
    const error = new PgError({
      code: '42601',
      message: 'syntax error at or near "x"',
      detail: 'd',
      hint: 'h',
      position: 7,
    });
    expect(parseOne(writeErrorResponse(error))).toMatchObject({
      name: 'error',
      severity: 'ERROR',
      code: '42601',
      message: 'syntax error at or near "x"',
      detail: 'd',
      hint: 'h',
      position: '7',
    });
  });

  it('writes exact bytes for a FATAL protocol violation', () => {
    const bytes = writeErrorResponse(PgError.protocolViolation('bad'));
    expect(bytes.toString('latin1')).toBe('E\0\0\0\x1fSFATAL\0VFATAL\0C08P01\0Mbad\0\0');
  });
});

describe('readErrorFields and writeErrorFields', () => {
  const bytes = Buffer.from('E\0\0\0\x2aSERROR\0C42601\0Mbad\0P7\0Wline 1\nline 2\0\0', 'latin1');

  it('reads each field of an ErrorResponse by its code', () => {
    const fields = readErrorFields(bytes);
    expect(fields).toEqual([
      ['S', 'ERROR'],
      ['C', '42601'],
      ['M', 'bad'],
      ['P', '7'],
      ['W', 'line 1\nline 2'],
    ]);
    expect(fields.find(([code]) => code === ErrorFieldCode.position)?.[1]).toBe('7');
  });

  it('writes the exact bytes it read, for either message type', () => {
    expect(writeErrorFields(0x45, readErrorFields(bytes)).equals(bytes)).toBe(true);
    expect(writeErrorFields(0x4e, [[ErrorFieldCode.message, 'hi']]).toString('latin1')).toBe('N\0\0\0\x09Mhi\0\0');
  });
});

describe('withoutChannelBinding', () => {
  it('drops SCRAM-SHA-256-PLUS from AuthenticationSASL', () => {
    const offered = writeAuthenticationSasl(['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256']);
    expect(parseOne(withoutChannelBinding(offered))).toMatchObject({
      name: 'authenticationSASL',
      mechanisms: ['SCRAM-SHA-256'],
    });
  });

  it('leaves other authentication messages alone', () => {
    const plain = writeAuthenticationSasl(['SCRAM-SHA-256']);
    expect(withoutChannelBinding(plain)).toBe(plain);
    const md5 = Buffer.from([0x52, 0, 0, 0, 12, 0, 0, 0, 5, 1, 2, 3, 4]);
    expect(withoutChannelBinding(md5)).toBe(md5);
  });
});
