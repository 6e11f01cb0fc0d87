import type { Logger } from '../log/logger.js';
import type { ProcedureCatalog, ProcedureInfo } from '../sql/procedure-catalog.js';
import { type CatalogEffect, type OurStatement, rewriteQuery } from '../sql/rewrite-query.js';
import { parseParse, writeParse } from '../wire/parse.js';
import { BackendType, FrontendType } from '../wire/protocol.js';
import { queryTextBytes, writeQuery } from '../wire/query.js';
import { type TextCodec, UTF8_CODEC } from '../wire/text-codec.js';
import { type ErrorSource, mapError, mapUnknownError, type RewrittenText } from './rewritten-errors.js';

type Rewrite = Extract<ReturnType<typeof rewriteQuery>, { kind: 'rewritten' }> & { readonly codec: TextCodec };

/** A prepared statement (or a portal bound to one) whose text we rewrote. */
interface RewrittenStatement extends RewrittenText {
  readonly call: boolean;
}

/** What one extended-protocol message of a segment runs, when it runs rewritten text. */
type Request =
  | { readonly kind: 'parse' | 'execute'; readonly statement: RewrittenStatement }
  /** An Execute whose portal could not be told (its Bind was cut by a chunk boundary). */
  | { readonly kind: 'unknown' };

/**
 * The requests up to one sync point (a Query, Sync or FunctionCall), kept
 * while their replies are to come when any of them runs rewritten text.
 */
interface Segment {
  readonly ordinal: number;
  /** A rewritten Query, which is its own sync point. */
  query?: RewrittenText & { readonly ours: readonly OurStatement[] };
  /** Extended-protocol messages that run rewritten text, by their index in the segment. */
  readonly requests: Map<number, Request>;
  readonly effects: CatalogEffect[];
  failed: boolean;
}

/**
 * How long the session trusts what it saw itself over the shared catalog
 * cache, which learns of changes by NOTIFY a moment after they commit.
 */
const OVERLAY_TTL_MS = 10_000;

/** Backend messages that end the reply to one extended-protocol message. */
const EXTENDED_REPLY_ENDS: ReadonlySet<number> = new Set([
  BackendType.parseComplete,
  BackendType.bindComplete,
  BackendType.closeComplete,
  BackendType.commandComplete,
  BackendType.emptyQueryResponse,
  BackendType.portalSuspended,
  BackendType.noData,
  BackendType.rowDescription,
]);

/**
 * The SQL side of one session: rewrites our statements in Query and Parse
 * messages, and tells PostgreSQL's errors about rewritten text as the
 * client should see them.
 *
 * Errors are credited to the request that raised them by counting: each
 * Query, Sync and FunctionCall is answered by exactly one ReadyForQuery;
 * within a Query, each statement ends with a CommandComplete; and each
 * Parse, Bind, Describe, Execute and Close ends its reply with one message
 * (ParseComplete, BindComplete, RowDescription or NoData, CommandComplete,
 * CloseComplete ...) unless it fails. Only headers are read for the
 * counting, and the names in Bind and Execute, to follow which portal runs
 * which rewritten statement.
 */
export class StatementRewriter {
  private readonly catalog: ProcedureCatalog;
  private readonly logger: Logger;
  /** Segments sent whose replies are still to come, oldest first; only those with rewritten text. */
  private readonly segments: Segment[] = [];
  /** Procedures this session created (info) or dropped (null) itself, by name, with when. */
  private readonly overlay = new Map<string, { info: ProcedureInfo | null; at: number }>();
  /** Prepared statements and portals that run rewritten text, by name (as bytes, in latin1). */
  private readonly statements = new Map<string, RewrittenStatement>();
  private readonly portals = new Map<string, RewrittenStatement | 'unknown'>();
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
  /** Extended-protocol messages sent since the last sync point. */
  private messagesSent = 0;
  /** Since the last ReadyForQuery: replies to extended-protocol messages, and CommandCompletes. */
  private repliesEnded = 0;
  private commandsCompleted = 0;
  standardConformingStrings = true;
  /**
   * The client's encoding (from ParameterStatus), in which texts are read
   * and rewritten; undefined for one procgate cannot read, whose texts are
   * left to PostgreSQL.
   */
  codec: TextCodec | undefined = UTF8_CODEC;

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

  /** Frontend messages this counts, reading the names at their start ({@link observeClient}). */
  static readonly observedFrontendTypes: ReadonlySet<number> = new Set([
    FrontendType.bind,
    FrontendType.execute,
    FrontendType.describe,
    FrontendType.close,
  ]);

  /** Backend messages this needs to see whole (after startup). */
  static readonly backendTypes: ReadonlySet<number> = new Set([
    BackendType.errorResponse,
    BackendType.readyForQuery,
  ]);

  /** Backend messages this counts by their header ({@link observeServer}). */
  static readonly observedBackendTypes: ReadonlySet<number> = EXTENDED_REPLY_ENDS;

  /** Returns the message to send instead of `message`, or undefined to send it as it is. */
  fromClient(type: number, message: Buffer): Buffer | undefined {
    switch (type) {
      case FrontendType.query: {
        const ordinal = this.sentSyncs;
        this.sentSyncs += 1;
        this.messagesSent = 0;
        const result = this.rewrite(queryTextBytes(message));
        if (result === undefined) return undefined;
        const segment = this.segment(ordinal);
        segment.query = { text: result.text, positions: result.positions, ours: result.ours };
        segment.effects.push(...result.effects);
        return writeQuery(result.text, result.codec);
      }
      case FrontendType.parse: {
        const parse = parseParse(message, this.codec ?? UTF8_CODEC);
        const index = this.messagesSent;
        this.messagesSent += 1;
        const name = parse.name.toString('latin1', 0, parse.name.length - 1);
        const result = this.rewrite(parse.textBytes, parse.text);
        if (result === undefined) {
          this.statements.delete(name);
          return undefined;
        }
        const statement: RewrittenStatement = { text: result.text, positions: result.positions, call: result.hasCall };
        this.statements.set(name, statement);
        const segment = this.segment(this.sentSyncs);
        segment.requests.set(index, { kind: 'parse', statement });
        segment.effects.push(...result.effects);
        return writeParse({ ...parse, text: result.text }, result.codec);
      }
      default:
        // Sync and FunctionCall: each is answered by one ReadyForQuery.
        this.sentSyncs += 1;
        this.messagesSent = 0;
        return undefined;
    }
  }

  /** Counts a Bind, Execute, Describe or Close; `head` is its start (at least its header). */
  observeClient(type: number, head: Buffer): void {
    const index = this.messagesSent;
    this.messagesSent += 1;
    if (type === FrontendType.bind) this.bind(head);
    else if (type === FrontendType.execute && this.portals.size > 0) this.execute(head, index);
  }

  /** Counts a backend message that ends the reply to one request. */
  observeServer(type: number): void {
    this.repliesEnded += 1;
    if (type === BackendType.commandComplete) this.commandsCompleted += 1;
  }

  /** Returns the message to send the client instead of `message`, or undefined. */
  fromServer(type: number, message: Buffer): Buffer | undefined {
    if (type === BackendType.readyForQuery) {
      this.receivedSyncs += 1;
      this.repliesEnded = 0;
      this.commandsCompleted = 0;
      while (this.segments.length > 0 && this.segments[0]!.ordinal < this.receivedSyncs) {
        const done = this.segments.shift()!;
        if (!done.failed)
          for (const effect of done.effects) this.overlay.set(effect.name, { info: effect.info, at: Date.now() });
      }
      return undefined;
    }
    const segment = this.segments[0]?.ordinal === this.receivedSyncs ? this.segments[0] : undefined;
    if (segment === undefined) return undefined;
    segment.failed = true;
    const source = this.sourceOf(segment);
    const codec = this.codec ?? UTF8_CODEC;
    if (source === 'unknown') return mapUnknownError(message, codec);
    return source === undefined ? undefined : mapError(message, source, codec);
  }

  /** What raised an error in `segment`: rewritten text (ours or not), an Execute of unknown text, or other text. */
  private sourceOf(segment: Segment): ErrorSource | 'unknown' | undefined {
    if (segment.query !== undefined && segment.requests.size === 0) {
      // Statements before the failing one each completed.
      const failing = segment.query.ours.find((statement) => statement.index === this.commandsCompleted);
      return { rewrite: segment.query, ours: failing !== undefined, call: failing?.call ?? false };
    }
    const request = segment.requests.get(this.repliesEnded);
    if (request === undefined) return undefined;
    if (request.kind === 'unknown') return 'unknown';
    return { rewrite: request.statement, ours: true, call: request.kind === 'execute' && request.statement.call };
  }

  /** Follows which portal a Bind makes, from its two names (when the chunk holds them). */
  private bind(head: Buffer): void {
    if (this.statements.size === 0 && this.portals.size === 0) return;
    const portalEnd = head.indexOf(0, 5);
    const statementEnd = portalEnd < 0 ? -1 : head.indexOf(0, portalEnd + 1);
    if (statementEnd < 0) {
      // Cut by a chunk boundary: an Execute of the portals it may have replaced is of unknown text.
      for (const name of this.portals.keys()) this.portals.set(name, 'unknown');
      this.portals.set('', 'unknown');
      return;
    }
    const portal = head.toString('latin1', 5, portalEnd);
    const statement = this.statements.get(head.toString('latin1', portalEnd + 1, statementEnd));
    if (statement === undefined) this.portals.delete(portal);
    else this.portals.set(portal, statement);
  }

  private execute(head: Buffer, index: number): void {
    const portalEnd = head.indexOf(0, 5);
    const portal = portalEnd < 0 ? undefined : this.portals.get(head.toString('latin1', 5, portalEnd));
    if (portalEnd >= 0 && portal === undefined) return;
    const request: Request =
      portal === undefined || portal === 'unknown' ? { kind: 'unknown' } : { kind: 'execute', statement: portal };
    this.segment(this.sentSyncs).requests.set(index, request);
  }

  /** The segment of sync point `ordinal`, made when first needed. */
  private segment(ordinal: number): Segment {
    const last = this.segments.at(-1);
    if (last?.ordinal === ordinal) return last;
    const segment: Segment = { ordinal, requests: new Map(), effects: [], failed: false };
    this.segments.push(segment);
    return segment;
  }

  /**
   * Rewrites the text of a Query or Parse, given as the client's bytes (and
   * decoded, when it already is). Undefined when it stays as it is: nothing
   * of ours in it, or bytes that are not text in the client's encoding,
   * which go to PostgreSQL untouched for it to reject.
   */
  private rewrite(bytes: Buffer, decoded?: string): Rewrite | undefined {
    const codec = this.codec;
    if (codec === undefined) return undefined;
    const text = decoded ?? codec.decode(bytes);
    const result = rewriteQuery(text, {
      catalog: this.view,
      standardConformingStrings: this.standardConformingStrings,
    });
    if (result.kind === 'passthrough') return undefined;
    // Only text that reads back to the very same bytes is rewritten, so every byte not ours reaches PostgreSQL as sent.
    if (!codec.encode(text).equals(bytes)) {
      this.logger.debug({ encoding: codec.name }, 'statement text is not valid in the client encoding: left as sent');
      return undefined;
    }
    this.logger.debug({ rewritten: result.text }, 'rewrote statement');
    return { ...result, codec };
  }
}
