import { FrontendType } from './protocol.js';

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
  /** The Int16 count of parameter types and their Int32 OIDs. */
  readonly parameterTypes: Buffer;
}

/** Reads a whole Parse message. */
export function parseParse(message: Buffer): ParseMessage {
  const nameEnd = message.indexOf(0, 5);
  const textEnd = message.indexOf(0, nameEnd + 1);
  return {
    name: message.subarray(5, nameEnd + 1),
    text: message.toString('utf8', nameEnd + 1, textEnd),
    parameterTypes: message.subarray(textEnd + 1),
  };
}

/** Writes a Parse message. */
export function writeParse(parse: ParseMessage): Buffer {
  const { name, parameterTypes } = parse;
  const text = Buffer.from(`${parse.text}\0`, 'utf8');
  const length = 4 + name.length + text.length + parameterTypes.length;
  const out = Buffer.allocUnsafe(1 + length);
  out[0] = FrontendType.parse;
  out.writeInt32BE(length, 1);
  name.copy(out, 5);
  text.copy(out, 5 + name.length);
  parameterTypes.copy(out, 5 + name.length + text.length);
  return out;
}
