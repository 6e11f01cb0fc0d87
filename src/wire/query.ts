import { FrontendType } from './protocol.js';

/**
 * Reads the statement text of a whole Query message.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-QUERY
 */
export function parseQuery(message: Buffer): string {
  return message.toString('utf8', 5, message.length - 1);
}

/** Writes a Query message carrying `text`. */
export function writeQuery(text: string): Buffer {
  const body = Buffer.from(`${text}\0`, 'utf8');
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = FrontendType.query;
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}
