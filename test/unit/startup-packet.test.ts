import { serialize } from 'pg-protocol';
import { describe, expect, it } from 'vitest';
import { EncryptionResponse, frameStartupPacket, parseStartupPacket } from '../../src/wire/startup-packet.js';
import { codePacket, startupPacket } from '../support/wire-client.js';

describe('frameStartupPacket', () => {
  it('waits for the length and then the whole packet', () => {
    const packet = serialize.startup({ user: 'u', database: 'd' });
    expect(frameStartupPacket(packet.subarray(0, 3))).toEqual({ kind: 'incomplete' });
    expect(frameStartupPacket(packet.subarray(0, 9))).toEqual({ kind: 'incomplete' });
    expect(frameStartupPacket(packet)).toEqual({ kind: 'packet', length: packet.length });
  });

  it('rejects lengths PostgreSQL rejects, before reading the body', () => {
    expect(frameStartupPacket(Buffer.from([0, 0, 0, 7]))).toMatchObject({ kind: 'invalid' });
    expect(frameStartupPacket(Buffer.from([0x7f, 0xff, 0xff, 0xff]))).toMatchObject({ kind: 'invalid' });
    expect(frameStartupPacket(Buffer.from([0, 0, 0x27, 0x11]))).toMatchObject({ kind: 'invalid' }); // 10001
  });
});

describe('parseStartupPacket', () => {
  it('reads a pg StartupMessage and its parameters', () => {
    const parsed = parseStartupPacket(
      serialize.startup({ user: 'alice', database: 'db', application_name: 'x' }),
    );
    expect(parsed).toMatchObject({ kind: 'startup', major: 3, minor: 0 });
    expect(parsed.kind === 'startup' && Object.fromEntries(parsed.parameters)).toEqual({
      user: 'alice',
      database: 'db',
      application_name: 'x',
      client_encoding: 'UTF8',
    });
  });

  it('accepts any 3.x minor version and _pq_ options', () => {
    const parsed = parseStartupPacket(startupPacket((3 << 16) | 2, { user: 'u', '_pq_.test': 'on' }));
    expect(parsed).toMatchObject({ kind: 'startup', major: 3, minor: 2 });
  });

  it('recognises SSLRequest, GSSENCRequest and CancelRequest', () => {
    expect(parseStartupPacket(codePacket(80877103))).toEqual({ kind: 'ssl-request' });
    expect(parseStartupPacket(codePacket(80877104))).toEqual({ kind: 'gssenc-request' });
    const cancel = Buffer.from([
      0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0x30, 0x39, 0xde, 0xad, 0xbe, 0xef,
    ]);
    const parsed = parseStartupPacket(cancel);
    expect(parsed.kind === 'cancel-request' && parsed.key.toString('hex')).toBe('00003039deadbeef');
  });

  it('leaves other protocol versions and malformed parameter lists to PostgreSQL', () => {
    expect(parseStartupPacket(startupPacket(4 << 16, { user: 'u' }))).toMatchObject({
      kind: 'unreadable-startup',
      reason: expect.stringContaining('unsupported frontend protocol 4.0'),
    });
    expect(parseStartupPacket(startupPacket(2 << 16, { user: 'u' }))).toMatchObject({
      kind: 'unreadable-startup',
    });
    const unterminated = Buffer.from([0, 0, 0, 14, 0, 3, 0, 0, 0x75, 0, 0x76, 0x76, 0x76, 0x76]);
    expect(parseStartupPacket(unterminated)).toMatchObject({ kind: 'unreadable-startup' });
  });

  it('rejects a cancel request of the wrong length', () => {
    expect(parseStartupPacket(Buffer.from([0, 0, 0, 12, 0x4, 0xd2, 0x16, 0x2e, 0, 0, 0, 1]))).toMatchObject({
      kind: 'invalid',
    });
  });
});

describe('EncryptionResponse', () => {
  it('answers SSLRequest and GSSENCRequest with one byte', () => {
    expect([...EncryptionResponse.accepted]).toEqual([0x53]);
    expect([...EncryptionResponse.refused]).toEqual([0x4e]);
  });
});
