import { AuthCode, BackendType } from './protocol.js';

/** The SASL mechanism that binds to the TLS channel; it cannot cross a TLS-terminating proxy. */
export const CHANNEL_BINDING_MECHANISM = 'SCRAM-SHA-256-PLUS';

/** Reads the sub-code of a whole Authentication ('R') message. */
export function authenticationCode(message: Buffer): number {
  return message.readInt32BE(5);
}

/**
 * Rewrites a whole AuthenticationSASL message without the channel-binding
 * mechanism: the client's TLS channel ends at procgate, so a client binding
 * to it would fail against PostgreSQL. Returns the message itself when there
 * is nothing to remove.
 * @see https://www.postgresql.org/docs/current/sasl-authentication.html
 */
export function withoutChannelBinding(message: Buffer): Buffer {
  if (message[0] !== BackendType.authentication || authenticationCode(message) !== AuthCode.sasl)
    return message;
  const mechanisms = message
    .toString('utf8', 9, message.length)
    .split('\0')
    .filter((name) => name.length > 0);
  if (!mechanisms.includes(CHANNEL_BINDING_MECHANISM)) return message;
  return writeAuthenticationSasl(mechanisms.filter((name) => name !== CHANNEL_BINDING_MECHANISM));
}

/** Writes an AuthenticationSASL message offering `mechanisms`. */
export function writeAuthenticationSasl(mechanisms: readonly string[]): Buffer {
  const list = Buffer.from(`${mechanisms.map((name) => `${name}\0`).join('')}\0`, 'utf8');
  const out = Buffer.allocUnsafe(9 + list.length);
  out[0] = BackendType.authentication;
  out.writeInt32BE(8 + list.length, 1);
  out.writeInt32BE(AuthCode.sasl, 5);
  list.copy(out, 9);
  return out;
}
