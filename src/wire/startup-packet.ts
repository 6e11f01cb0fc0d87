import { MAX_STARTUP_PACKET_LENGTH, PROTOCOL_MAJOR, StartupCode } from './protocol.js';

/**
 * What a client may send before its session starts, decoded from one
 * length-prefixed packet (no type byte).
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP
 */
export type StartupPacket =
  | { readonly kind: 'ssl-request' }
  | { readonly kind: 'gssenc-request' }
  /** `key` is the process id and secret key bytes, as BackendKeyData carried them. */
  | { readonly kind: 'cancel-request'; readonly key: Buffer }
  | {
    readonly kind: 'startup';
    readonly major: number;
    readonly minor: number;
    readonly parameters: ReadonlyMap<string, string>;
  }
  /**
   * A StartupMessage procgate cannot read (another major version, a broken
   * parameter list): PostgreSQL judges it and answers in its own words.
   */
  | { readonly kind: 'unreadable-startup'; readonly reason: string }
  /** A packet PostgreSQL drops without a reply (it only logs why). */
  | { readonly kind: 'invalid'; readonly reason: string };

/**
 * The one-byte answers to SSLRequest and GSSENCRequest: 'S' (start the TLS
 * handshake) or 'N' (refused; the client may go on in plain text).
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-SSL
 */
export const EncryptionResponse = {
  accepted: Buffer.from('S'),
  refused: Buffer.from('N'),
} as const;

/** Result of looking for a whole packet at the start of `buffer`. */
export type PacketFrame =
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'invalid'; readonly reason: string }
  | { readonly kind: 'packet'; readonly length: number };

/**
 * Finds the extent of the first startup packet in `buffer`, checking its
 * declared length before anything is allocated for it.
 */
export function frameStartupPacket(buffer: Buffer): PacketFrame {
  if (buffer.length < 4) return { kind: 'incomplete' };
  const length = buffer.readInt32BE(0);
  if (length < 8 || length > MAX_STARTUP_PACKET_LENGTH) {
    return { kind: 'invalid', reason: 'invalid length of startup packet' };
  }
  if (buffer.length < length) return { kind: 'incomplete' };
  return { kind: 'packet', length };
}

/** Decodes one whole startup packet (as delimited by {@link frameStartupPacket}). */
export function parseStartupPacket(packet: Buffer): StartupPacket {
  const code = packet.readInt32BE(4);
  switch (code) {
    case StartupCode.sslRequest:
      return packet.length === 8 ? { kind: 'ssl-request' } : invalid('invalid length of SSL request');
    case StartupCode.gssEncRequest:
      return packet.length === 8 ? { kind: 'gssenc-request' } : invalid('invalid length of GSSENC request');
    case StartupCode.cancelRequest:
      // Protocol 3.2 allows secret keys of up to 256 bytes; 3.0 has 4.
      return packet.length >= 16 && packet.length <= 12 + 256
        ? { kind: 'cancel-request', key: packet.subarray(8) }
        : invalid('invalid length of cancel request');
  }
  const major = code >>> 16;
  const minor = code & 0xffff;
  if (major !== PROTOCOL_MAJOR) {
    return { kind: 'unreadable-startup', reason: `unsupported frontend protocol ${major}.${minor}` };
  }
  const parameters = parseParameters(packet.subarray(8));
  if (parameters === undefined) {
    return { kind: 'unreadable-startup', reason: 'invalid startup packet layout: expected terminator as last byte' };
  }
  return { kind: 'startup', major, minor, parameters };
}

/** Name/value pairs, each NUL-terminated, ending with an extra NUL (as PostgreSQL reads them). */
function parseParameters(body: Buffer): Map<string, string> | undefined {
  const parameters = new Map<string, string>();
  let offset = 0;
  while (offset < body.length) {
    const nameEnd = body.indexOf(0, offset);
    if (nameEnd === offset) break;
    if (nameEnd < 0) return undefined;
    const valueEnd = body.indexOf(0, nameEnd + 1);
    if (valueEnd < 0) return undefined;
    parameters.set(body.toString('utf8', offset, nameEnd), body.toString('utf8', nameEnd + 1, valueEnd));
    offset = valueEnd + 1;
  }
  return offset === body.length - 1 ? parameters : undefined;
}

function invalid(reason: string): StartupPacket {
  return { kind: 'invalid', reason };
}
