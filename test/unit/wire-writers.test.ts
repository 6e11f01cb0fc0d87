import { Parser } from 'pg-protocol/dist/parser.js';
import { describe, expect, it } from 'vitest';
import { PgError } from '../../src/errors/pg-error.js';
import { withoutChannelBinding, writeAuthenticationSasl } from '../../src/wire/authentication.js';
import { writeErrorResponse } from '../../src/wire/error-response.js';

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
