import type { PgError } from '../errors/pg-error.js';
import { BackendType } from './protocol.js';

/**
 * Writes an ErrorResponse message for a PgError.
 * @see https://www.postgresql.org/docs/current/protocol-error-fields.html
 */
export function writeErrorResponse(error: PgError): Buffer {
  const fields: Array<[string, string]> = [
    ['S', error.severity],
    ['V', error.severity],
    ['C', error.code],
    ['M', error.message],
  ];
  if (error.detail !== undefined) fields.push(['D', error.detail]);
  if (error.hint !== undefined) fields.push(['H', error.hint]);
  if (error.position !== undefined) fields.push(['P', String(error.position)]);

  const parts = fields.map(([tag, value]) => Buffer.from(`${tag}${value}\0`, 'utf8'));
  const body = Buffer.concat([...parts, Buffer.from([0])]);
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = BackendType.errorResponse;
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}
