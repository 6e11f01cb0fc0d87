import { FrontendType } from './protocol.js';
import { type TextCodec, UTF8_CODEC } from './text-codec.js';

/** The statement text of a whole Query message, as the bytes the client sent (a view). */
export function queryTextBytes(message: Buffer): Buffer {
  return message.subarray(5, message.length - 1);
}

/**
 * Reads the statement text of a whole Query message, in the client's encoding.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-QUERY
 */
export function parseQuery(message: Buffer, codec: TextCodec = UTF8_CODEC): string {
  return codec.decode(queryTextBytes(message));
}

/** Writes a Query message carrying `text`, in the client's encoding. */
export function writeQuery(text: string, codec: TextCodec = UTF8_CODEC): Buffer {
  const body = codec.encode(text);
  const out = Buffer.allocUnsafe(6 + body.length);
  out[0] = FrontendType.query;
  out.writeInt32BE(5 + body.length, 1);
  body.copy(out, 5);
  out[5 + body.length] = 0;
  return out;
}
