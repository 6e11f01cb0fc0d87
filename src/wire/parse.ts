import { FrontendType } from './protocol.js';
import { type TextCodec, UTF8_CODEC } from './text-codec.js';

/**
 * A Parse message. Only its text is decoded: the statement name and the
 * parameter types stay the client's own bytes (views into the message, not
 * copies), so a rewritten Parse carries them exactly as sent and PostgreSQL,
 * not procgate, judges them.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-PARSE
 */
export interface ParseMessage {
  /** The prepared statement's name with its terminating NUL. */
  readonly name: Buffer;
  readonly text: string;
  /** The text as the client sent it, in its encoding (a view). */
  readonly textBytes: Buffer;
  /** The Int16 count of parameter types and their Int32 OIDs. */
  readonly parameterTypes: Buffer;
}

/** Reads a whole Parse message, its text in the client's encoding. */
export function parseParse(message: Buffer, codec: TextCodec = UTF8_CODEC): ParseMessage {
  const nameEnd = message.indexOf(0, 5);
  const textEnd = message.indexOf(0, nameEnd + 1);
  const textBytes = message.subarray(nameEnd + 1, textEnd);
  return {
    name: message.subarray(5, nameEnd + 1),
    text: codec.decode(textBytes),
    textBytes,
    parameterTypes: message.subarray(textEnd + 1),
  };
}

/** Writes a Parse message with `text` in the client's encoding. */
export function writeParse(
  parse: Omit<ParseMessage, 'textBytes'>,
  codec: TextCodec = UTF8_CODEC,
): Buffer {
  const { name, parameterTypes } = parse;
  const text = Buffer.concat([codec.encode(parse.text), Buffer.from([0])]);
  const length = 4 + name.length + text.length + parameterTypes.length;
  const out = Buffer.allocUnsafe(1 + length);
  out[0] = FrontendType.parse;
  out.writeInt32BE(length, 1);
  name.copy(out, 5);
  text.copy(out, 5 + name.length);
  parameterTypes.copy(out, 5 + name.length + text.length);
  return out;
}
