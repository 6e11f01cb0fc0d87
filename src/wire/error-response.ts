import type { PgError } from '../errors/pg-error.js';
import { BackendType } from './protocol.js';
import { type TextCodec, UTF8_CODEC } from './text-codec.js';

/** One field of an ErrorResponse or NoticeResponse: its one-byte code and its text. */
export type ErrorField = readonly [code: string, value: string];

/**
 * Codes of the ErrorResponse and NoticeResponse fields procgate writes or reads.
 * @see https://www.postgresql.org/docs/current/protocol-error-fields.html
 */
export const ErrorFieldCode = {
  severity: 'S',
  /** The severity, never localized. */
  severityNonLocalized: 'V',
  sqlState: 'C',
  message: 'M',
  detail: 'D',
  hint: 'H',
  /** 1-based character position in the statement text, as a decimal string. */
  position: 'P',
  /** CONTEXT: the call stack, one line per level. */
  where: 'W',
} as const;

/**
 * Writes an ErrorResponse message for a PgError.
 * @see https://www.postgresql.org/docs/current/protocol-error-fields.html
 */
export function writeErrorResponse(error: PgError, codec: TextCodec = UTF8_CODEC): Buffer {
  return writeErrorFields(BackendType.errorResponse, errorFields(error), codec);
}

/** The fields PostgreSQL would send for `error`. */
export function errorFields(error: PgError): ErrorField[] {
  const fields: ErrorField[] = [
    [ErrorFieldCode.severity, error.severity],
    [ErrorFieldCode.severityNonLocalized, error.severity],
    [ErrorFieldCode.sqlState, error.code],
    [ErrorFieldCode.message, error.message],
  ];
  if (error.detail !== undefined) fields.push([ErrorFieldCode.detail, error.detail]);
  if (error.hint !== undefined) fields.push([ErrorFieldCode.hint, error.hint]);
  if (error.position !== undefined) fields.push([ErrorFieldCode.position, String(error.position)]);
  return fields;
}

/** Reads the fields of a whole ErrorResponse (or NoticeResponse) message, in the client's encoding. */
export function readErrorFields(message: Buffer, codec: TextCodec = UTF8_CODEC): ErrorField[] {
  const fields: ErrorField[] = [];
  let offset = 5;
  while (offset < message.length && message[offset] !== 0) {
    const end = message.indexOf(0, offset + 1);
    if (end < 0) break;
    fields.push([String.fromCharCode(message[offset]!), codec.decode(message.subarray(offset + 1, end))]);
    offset = end + 1;
  }
  return fields;
}

/** Writes a message of `type` ('E' or 'N') with `fields`, in the client's encoding. */
export function writeErrorFields(type: number, fields: readonly ErrorField[], codec: TextCodec = UTF8_CODEC): Buffer {
  const body = codec.encode(`${fields.map(([code, value]) => `${code}${value}\0`).join('')}\0`);
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = type;
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}
