import { PgError } from '../errors/pg-error.js';
import { SqlState } from '../errors/sqlstate.js';
import type { Logger } from '../log/logger.js';
import type { ProcedureCatalog, ProcedureInfo } from '../sql/procedure-catalog.js';
import type { PositionMap } from '../sql/rewrite/position-map.js';
import { type CatalogEffect, rewriteQuery } from '../sql/rewrite-query.js';
import {
  type ErrorField,
  ErrorFieldCode,
  readErrorFields,
  writeErrorFields,
  writeErrorResponse,
} from '../wire/error-response.js';
import { parseParse, writeParse } from '../wire/parse.js';
import { BackendType, FrontendType } from '../wire/protocol.js';
import { parseQuery, writeQuery } from '../wire/query.js';

/** A rewritten statement whose errors are still to come, and the sync point that answers it. */
interface PendingRewrite {
  readonly ordinal: number;
  /** For a Parse: how many Parse messages came before it since the last sync point; its errors come after as many ParseCompletes. */
  readonly parseIndex: number | undefined;
  readonly positions: PositionMap;
  readonly effects: readonly CatalogEffect[];
  readonly hasCall: boolean;
  failed: boolean;
}

/** What a CALL of ours inside a transaction block gets instead of PostgreSQL's 2D000 about its COMMIT. */
const CALL_IN_TRANSACTION = new PgError({
  code: SqlState.activeSqlTransaction,
  message: 'CALL of a procgate procedure cannot run inside a transaction block',
  hint: 'CALL commits its run and waits for it. In a transaction, use EXECUTE PROCEDURE (the run starts when the transaction commits) and watch procgate.runs.',
});

/**
 * How long the session trusts what it saw itself over the shared catalog
 * cache, which learns of changes by NOTIFY a moment after they commit.
 */
const OVERLAY_TTL_MS = 10_000;

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
  /** Procedures this session created (info) or dropped (null) itself, by name, with when. */
  private readonly overlay = new Map<string, { info: ProcedureInfo | null; at: number }>();
  /**
   * What this session knows: its own recent CREATE and DROP PROCEDURE first,
   * so `CREATE PROCEDURE p ...; CALL p()` works at once (even inside the
   * creating transaction), then the shared cache.
   */
  private readonly view: ProcedureCatalog = {
    lookup: (name) => {
      const own = this.overlay.get(name);
      if (own !== undefined && Date.now() - own.at < OVERLAY_TTL_MS) return own.info ?? undefined;
      return this.catalog.lookup(name);
    },
  };
  private sentSyncs = 0;
  private receivedSyncs = 0;
  /** Parse messages sent since the last sync point, and ParseCompletes received since the last ReadyForQuery. */
  private parsesSent = 0;
  private parsesCompleted = 0;
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
    BackendType.parseComplete,
  ]);

  /** Returns the message to send instead of `message`, or undefined to send it as it is. */
  fromClient(type: number, message: Buffer): Buffer | undefined {
    switch (type) {
      case FrontendType.query: {
        const ordinal = this.sentSyncs;
        this.sentSyncs += 1;
        this.parsesSent = 0;
        const rewrite = this.rewrite(parseQuery(message), ordinal, undefined);
        return rewrite === undefined ? undefined : writeQuery(rewrite);
      }
      case FrontendType.parse: {
        const parse = parseParse(message);
        const parseIndex = this.parsesSent;
        this.parsesSent += 1;
        const rewrite = this.rewrite(parse.text, this.sentSyncs, parseIndex);
        return rewrite === undefined ? undefined : writeParse({ ...parse, text: rewrite });
      }
      default:
        // Sync and FunctionCall: each is answered by one ReadyForQuery.
        this.sentSyncs += 1;
        this.parsesSent = 0;
        return undefined;
    }
  }

  /** Returns the message to send the client instead of `message`, or undefined. */
  fromServer(type: number, message: Buffer): Buffer | undefined {
    if (type === BackendType.parseComplete) {
      this.parsesCompleted += 1;
      return undefined;
    }
    if (type === BackendType.readyForQuery) {
      this.receivedSyncs += 1;
      this.parsesCompleted = 0;
      while (this.pending.length > 0 && this.pending[0]!.ordinal < this.receivedSyncs) {
        const done = this.pending.shift()!;
        if (!done.failed)
          for (const effect of done.effects)
            this.overlay.set(effect.name, { info: effect.info, at: Date.now() });
      }
      return undefined;
    }
    // Not an error about text rewritten at this sync point: a named statement
    // of ours executed again, or an Execute after its Parse completed.
    if (this.pending.length === 0) return mapStrayError(message);
    // The error is about the rewritten text of this sync point's Query, or of the Parse that failed.
    const pending = this.pending.find(
      (entry) =>
        entry.ordinal === this.receivedSyncs &&
        (entry.parseIndex === undefined || entry.parseIndex === this.parsesCompleted),
    );
    for (const entry of this.pending) if (entry.ordinal === this.receivedSyncs) entry.failed = true;
    // A CALL of ours fails at Execute, after its Parse completed: any rewrite of this sync point counts.
    const call = this.pending.some((entry) => entry.ordinal === this.receivedSyncs && entry.hasCall);
    if (call && isInvalidTransactionTermination(readErrorFields(message))) {
      return writeErrorResponse(CALL_IN_TRANSACTION);
    }
    return pending === undefined ? mapStrayError(message) : mapError(message, pending.positions);
  }

  private rewrite(text: string, ordinal: number, parseIndex: number | undefined): string | undefined {
    const result = rewriteQuery(text, {
      catalog: this.view,
      standardConformingStrings: this.standardConformingStrings,
    });
    if (result.kind === 'passthrough') return undefined;
    this.logger.debug({ rewritten: result.text }, 'rewrote statement');
    this.pending.push({
      ordinal,
      parseIndex,
      positions: result.positions,
      effects: result.effects,
      hasCall: result.hasCall,
      failed: false,
    });
    return result.text;
  }
}

/**
 * An ErrorResponse about rewritten text, as the client should see it: its
 * position moved to the client's text (or our own error in its place), and
 * without the CONTEXT lines that only name procgate's internal functions.
 * Undefined when nothing changes.
 */
function mapError(message: Buffer, positions: PositionMap): Buffer | undefined {
  const fields = readErrorFields(message);
  const position = fields.find(([code]) => code === ErrorFieldCode.position);
  const mapped = position === undefined ? undefined : positions.map(Number.parseInt(position[1], 10));
  if (mapped?.kind === 'replace') return writeErrorResponse(mapped.error);
  const isHidden = ([code, value]: ErrorField): boolean => code === ErrorFieldCode.where && isInternalContext(value);
  if (mapped === undefined && !fields.some(isHidden)) return undefined;
  const visible = fields
    .filter((field) => !isHidden(field))
    .map(
      ([code, value]): ErrorField =>
        code === ErrorFieldCode.position && mapped !== undefined ? [code, String(mapped.position)] : [code, value],
    );
  return writeErrorFields(BackendType.errorResponse, visible);
}

/** Whether PostgreSQL refused a COMMIT (here: call_and_wait's) inside a transaction block. */
function isInvalidTransactionTermination(fields: readonly ErrorField[]): boolean {
  return fields.some(
    ([code, value]) => code === ErrorFieldCode.sqlState && value === SqlState.invalidTransactionTermination,
  );
}

const CALL_AND_WAIT_CONTEXT = /^PL\/pgSQL function procgate\.call_and_wait\(/;

/**
 * An ErrorResponse that can't be matched to rewritten text of its sync point:
 * the Execute of a CALL whose Parse completed, or of a named statement
 * prepared earlier (pgjdbc's server-prepared statements). Its position is
 * left alone; a CALL of ours is recognised by call_and_wait's CONTEXT, which
 * is hidden, and its COMMIT refused in a transaction block is reported as
 * such. Undefined when nothing changes.
 */
function mapStrayError(message: Buffer): Buffer | undefined {
  const fields = readErrorFields(message);
  const ours = fields.some(
    ([code, value]) =>
      code === ErrorFieldCode.where && value.split('\n').every((line) => CALL_AND_WAIT_CONTEXT.test(line)),
  );
  if (!ours) return undefined;
  if (isInvalidTransactionTermination(fields)) return writeErrorResponse(CALL_IN_TRANSACTION);
  return writeErrorFields(
    BackendType.errorResponse,
    fields.filter(([code]) => code !== ErrorFieldCode.where),
  );
}

/** CONTEXT that only tells which of procgate's SQL API functions raised the error. */
function isInternalContext(context: string): boolean {
  return context
    .split('\n')
    .every((line) => /procgate_internal\.|^SQL function "|^PL\/pgSQL function procgate\.call_and_wait\(/.test(line));
}
