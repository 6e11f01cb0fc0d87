import { PgError } from '../errors/pg-error.js';
import { SqlState } from '../errors/sqlstate.js';
import type { PositionMap } from '../sql/rewrite/position-map.js';
import {
  type ErrorField,
  ErrorFieldCode,
  readErrorFields,
  writeErrorFields,
  writeErrorResponse,
} from '../wire/error-response.js';
import { BackendType } from '../wire/protocol.js';
import type { TextCodec } from '../wire/text-codec.js';
import { withoutInternalContext } from './internal-context.js';

/** What PostgreSQL ran in place of a client's text that held statements of ours. */
export interface RewrittenText {
  /** The text PostgreSQL ran. */
  readonly text: string;
  readonly positions: PositionMap;
}

/** What a CALL of ours inside a transaction block gets instead of PostgreSQL's 2D000 about its COMMIT. */
const CALL_IN_TRANSACTION = new PgError({
  code: SqlState.activeSqlTransaction,
  message: 'CALL of a procgate procedure cannot run inside a transaction block',
  hint: 'CALL commits its run and waits for it. In a transaction, use EXECUTE PROCEDURE (the run starts when the transaction commits) and watch procgate.runs.',
});

/** How an error is to be told, given the request it answers. */
export interface ErrorSource {
  readonly rewrite: RewrittenText;
  /** Raised by one of our statements (not by another statement of the same text). */
  readonly ours: boolean;
  /** Raised by a CALL of ours. */
  readonly call: boolean;
}

/**
 * An ErrorResponse about rewritten text, as the client should see it: its
 * position moved to the client's text (or our own error in its place), and,
 * when one of our statements raised it, without the CONTEXT lines that only
 * name procgate's own functions. Undefined when nothing changes.
 */
export function mapError(message: Buffer, source: ErrorSource, codec: TextCodec): Buffer | undefined {
  const fields = readErrorFields(message, codec);
  if (source.call && isInvalidTransactionTermination(fields)) return writeErrorResponse(CALL_IN_TRANSACTION, codec);
  const position = fields.find(([code]) => code === ErrorFieldCode.position);
  const mapped = position === undefined ? undefined : source.rewrite.positions.map(Number.parseInt(position[1], 10));
  if (mapped?.kind === 'replace') return writeErrorResponse(mapped.error, codec);
  let changed = mapped !== undefined;
  const visible: ErrorField[] = [];
  for (const [code, value] of fields) {
    if (code === ErrorFieldCode.position && mapped !== undefined) {
      visible.push([code, String(mapped.position)]);
    } else if (code === ErrorFieldCode.where && source.ours) {
      const kept = withoutInternalContext(value, source.rewrite.text);
      if (kept !== value) changed = true;
      if (kept !== undefined) visible.push([code, kept]);
    } else {
      visible.push([code, value]);
    }
  }
  return changed ? writeErrorFields(BackendType.errorResponse, visible, codec) : undefined;
}

/** Whether PostgreSQL refused a COMMIT (here: call_and_wait's) inside a transaction block. */
function isInvalidTransactionTermination(fields: readonly ErrorField[]): boolean {
  return fields.some(
    ([code, value]) => code === ErrorFieldCode.sqlState && value === SqlState.invalidTransactionTermination,
  );
}

const CALL_AND_WAIT_CONTEXT = /^PL\/pgSQL function procgate\.call_and_wait\(/;

/**
 * An ErrorResponse of an Execute whose statement could not be known (its
 * Bind was not seen whole enough to read its names). Its position is left
 * alone; a CALL of ours is recognised by call_and_wait's CONTEXT, which is
 * hidden, and its COMMIT refused in a transaction block is reported as
 * such. Undefined when nothing changes.
 */
export function mapUnknownError(message: Buffer, codec: TextCodec): Buffer | undefined {
  const fields = readErrorFields(message, codec);
  const ours = fields.some(
    ([code, value]) =>
      code === ErrorFieldCode.where && value.split('\n').every((line) => CALL_AND_WAIT_CONTEXT.test(line)),
  );
  if (!ours) return undefined;
  if (isInvalidTransactionTermination(fields)) return writeErrorResponse(CALL_IN_TRANSACTION, codec);
  return writeErrorFields(
    BackendType.errorResponse,
    fields.filter(([code]) => code !== ErrorFieldCode.where),
    codec,
  );
}
