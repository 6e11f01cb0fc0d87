import type { Logger } from '../log/logger.js';
import type { ProcedureCatalog } from '../sql/procedure-catalog.js';
import type { PositionMap } from '../sql/rewrite/position-map.js';
import { rewriteQuery } from '../sql/rewrite-query.js';
import { errorFields, readErrorFields, writeErrorFields } from '../wire/error-response.js';
import { BackendType, FrontendType } from '../wire/protocol.js';

/** A rewritten statement whose errors are still to come, and the sync point that answers it. */
interface PendingRewrite {
  readonly ordinal: number;
  readonly positions: PositionMap;
}

/**
 * The SQL side of one session: rewrites our statements in Query and Parse
 * messages, and maps the positions of PostgreSQL's errors about rewritten
 * text back to the client's text.
 *
 * Responses are matched to requests by counting sync points: each Query,
 * Sync and FunctionCall is answered by exactly one ReadyForQuery, so a
 * rewritten message sent before the n-th sync point is answered before the
 * n-th ReadyForQuery.
 */
export class StatementRewriter {
  private readonly catalog: ProcedureCatalog;
  private readonly logger: Logger;
  private readonly pending: PendingRewrite[] = [];
  private sentSyncs = 0;
  private receivedSyncs = 0;
  standardConformingStrings = true;

  constructor(catalog: ProcedureCatalog, logger: Logger) {
    this.catalog = catalog;
    this.logger = logger;
  }

  /** Frontend messages this needs to see whole. */
  static readonly frontendTypes: ReadonlySet<number> = new Set([
    FrontendType.query,
    FrontendType.parse,
    FrontendType.sync,
    FrontendType.functionCall,
  ]);

  /** Backend messages this needs to see whole (after startup). */
  static readonly backendTypes: ReadonlySet<number> = new Set([
    BackendType.errorResponse,
    BackendType.readyForQuery,
  ]);

  /** Returns the message to send instead of `message`, or undefined to send it as it is. */
  fromClient(type: number, message: Buffer): Buffer | undefined {
    switch (type) {
      case FrontendType.query: {
        const ordinal = this.sentSyncs;
        this.sentSyncs += 1;
        const text = message.toString('utf8', 5, message.length - 1);
        const rewrite = this.rewrite(text, ordinal);
        return rewrite === undefined ? undefined : writeQuery(rewrite);
      }
      case FrontendType.parse: {
        const nameEnd = message.indexOf(0, 5);
        const textEnd = message.indexOf(0, nameEnd + 1);
        const rewrite = this.rewrite(message.toString('utf8', nameEnd + 1, textEnd), this.sentSyncs);
        return rewrite === undefined ? undefined : writeParse(message, nameEnd, textEnd, rewrite);
      }
      default:
        // Sync and FunctionCall: each is answered by one ReadyForQuery.
        this.sentSyncs += 1;
        return undefined;
    }
  }

  /** Returns the message to send the client instead of `message`, or undefined. */
  fromServer(type: number, message: Buffer): Buffer | undefined {
    if (type === BackendType.readyForQuery) {
      this.receivedSyncs += 1;
      while (this.pending.length > 0 && this.pending[0]!.ordinal < this.receivedSyncs) this.pending.shift();
      return undefined;
    }
    const pending = this.pending[0];
    if (pending === undefined || pending.ordinal !== this.receivedSyncs) return undefined;
    return mapError(message, pending.positions);
  }

  private rewrite(text: string, ordinal: number): string | undefined {
    const result = rewriteQuery(text, {
      catalog: this.catalog,
      standardConformingStrings: this.standardConformingStrings,
    });
    if (result.kind === 'passthrough') return undefined;
    this.logger.debug({ rewritten: result.text }, 'rewrote statement');
    this.pending.push({ ordinal, positions: result.positions });
    return result.text;
  }
}

/** An ErrorResponse with its position moved to the client's text, or replaced by our own error. */
function mapError(message: Buffer, positions: PositionMap): Buffer | undefined {
  const fields = readErrorFields(message);
  const position = fields.find(([code]) => code === 'P');
  if (position === undefined) return undefined;
  const mapped = positions.map(Number.parseInt(position[1], 10));
  if (mapped === undefined) return undefined;
  if (mapped.kind === 'replace')
    return writeErrorFields(BackendType.errorResponse, errorFields(mapped.error));
  return writeErrorFields(
    BackendType.errorResponse,
    fields.map(([code, value]) => (code === 'P' ? ['P', String(mapped.position)] : [code, value])),
  );
}

function writeQuery(text: string): Buffer {
  const body = Buffer.from(`${text}\0`, 'utf8');
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = FrontendType.query;
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

/** A Parse message with the same statement name and parameter types, and new text. */
function writeParse(original: Buffer, nameEnd: number, textEnd: number, text: string): Buffer {
  const name = original.subarray(5, nameEnd + 1);
  const body = Buffer.from(`${text}\0`, 'utf8');
  const rest = original.subarray(textEnd + 1);
  const length = 4 + name.length + body.length + rest.length;
  const out = Buffer.allocUnsafe(1 + length);
  out[0] = FrontendType.parse;
  out.writeInt32BE(length, 1);
  name.copy(out, 5);
  body.copy(out, 5 + name.length);
  rest.copy(out, 5 + name.length + body.length);
  return out;
}
