import type net from 'node:net';
import { PgError } from '../errors/pg-error.js';
import type { Logger } from '../log/logger.js';
import { withoutChannelBinding } from '../wire/authentication.js';
import { parseBackendKeyData } from '../wire/backend-key-data.js';
import { writeErrorResponse } from '../wire/error-response.js';
import { parseParameterStatus } from '../wire/parameter-status.js';
import { BackendType } from '../wire/protocol.js';
import { codecFor } from '../wire/text-codec.js';
import type { BackendAddress } from './backend-address.js';
import { connectBackend } from './backend-address.js';
import type { CancelRegistry } from './cancel-registry.js';
import { adoptWithFastReads } from './fast-reads.js';
import { MessageFramer } from './message-framer.js';
import { StatementRewriter } from './statement-rewriter.js';

export interface SessionOptions {
  readonly backend: BackendAddress;
  readonly cancelRegistry: CancelRegistry;
  readonly maxMessageSize: number;
  readonly logger: Logger;
  /** Rewrites procgate's statements; absent, the session is pure pass-through. */
  readonly rewriter?: StatementRewriter | undefined;
}

const NONE: ReadonlySet<number> = new Set();
/** A pass-through session reads nothing whole once started. */
const STARTUP_DONE = NONE;
/** Backend messages read whole until the first ReadyForQuery: authentication and session keys. */
const STARTUP_BACKEND_MESSAGES: ReadonlySet<number> = new Set([
  BackendType.authentication,
  BackendType.backendKeyData,
  BackendType.readyForQuery,
  BackendType.parameterStatus,
]);
/** Afterwards ParameterStatus (settings that change how SQL is lexed) and what the rewriter follows. */
const STEADY_BACKEND_MESSAGES: ReadonlySet<number> = new Set([
  BackendType.parameterStatus,
  ...StatementRewriter.backendTypes,
]);
/** PostgreSQL sends no message larger than this; the limit only guards the framer. */
const MAX_BACKEND_MESSAGE = 0x7fffffff;

/**
 * One client session: a client connection paired with its own PostgreSQL
 * connection. Bytes flow both ways untouched, with backpressure; only
 * message headers are read, and whole messages only where the proxy must
 * (authentication, session keys, settings, and statement texts).
 */
export class Session {
  readonly closed: Promise<void>;
  private readonly client: net.Socket;
  private readonly backend: net.Socket;
  private readonly options: SessionOptions;
  private readonly logger: Logger;
  private readonly clientTls: boolean;
  private readonly toBackend: MessageFramer;
  private readonly toClient: MessageFramer;
  private cancelKey: string | undefined;
  private readonly rewriter: StatementRewriter | undefined;
  private backendSpoke = false;
  private started = false;
  /** Whether the client socket reads through 'data' events (TLS) rather than `onread`. */
  private readonly clientEmitsData: boolean;

  /** `client` must be paused, with nothing buffered: the session takes over its reads. */
  constructor(client: net.Socket, clientTls: boolean, options: SessionOptions) {
    const adopted = adoptWithFastReads(client, (chunk) => this.forwardFromClient(chunk));
    this.client = adopted ?? client;
    this.clientEmitsData = adopted === undefined;
    this.clientTls = clientTls;
    this.options = options;
    this.logger = options.logger;
    this.rewriter = options.rewriter;
    this.backend = connectBackend(options.backend, (chunk) => this.forwardFromBackend(chunk));
    this.toBackend = new MessageFramer({
      maxMessageSize: options.maxMessageSize,
      wholeMessageTypes: this.rewriter === undefined ? NONE : StatementRewriter.frontendTypes,
      inspect: (type, message) => this.rewriter?.fromClient(type, message),
      observedTypes: this.rewriter === undefined ? NONE : StatementRewriter.observedFrontendTypes,
      observe: (type, head) => this.rewriter?.observeClient(type, head),
      write: (bytes) => this.backend.write(bytes),
    });
    this.toClient = new MessageFramer({
      maxMessageSize: MAX_BACKEND_MESSAGE,
      wholeMessageTypes: STARTUP_BACKEND_MESSAGES,
      inspect: (type, message) => this.inspectBackend(type, message),
      observedTypes: this.rewriter === undefined ? NONE : StatementRewriter.observedBackendTypes,
      observe: (type) => this.rewriter?.observeServer(type),
      write: (bytes) => this.client.write(bytes),
    });
    this.closed = new Promise((resolve) => {
      let open = 2;
      const onClose = (): void => {
        open -= 1;
        if (open === 0) resolve();
      };
      this.client.once('close', onClose);
      this.backend.once('close', onClose);
    });
  }

  /** Sends the client's StartupMessage (and anything after it) and starts relaying. */
  start(startupPacket: Buffer, leftover: Buffer): void {
    const { client, backend } = this;
    backend.write(startupPacket);
    if (leftover.length > 0) this.forwardFromClient(leftover);

    if (this.clientEmitsData) {
      client.on('data', (chunk: Buffer) => {
        if (!this.forwardFromClient(chunk)) client.pause();
      });
    }
    backend.on('drain', () => client.resume());
    client.on('drain', () => backend.resume());

    client.on('error', (error) => this.logger.debug({ err: error }, 'client socket error'));
    backend.on('error', (error) => {
      if (!this.backendSpoke) {
        this.logger.error({ err: error }, 'could not connect to PostgreSQL');
        client.end(writeErrorResponse(PgError.backendUnavailable()));
        return;
      }
      this.logger.debug({ err: error }, 'PostgreSQL socket error');
    });
    // Half-close is passed on so pending bytes are flushed before the other side goes.
    client.on('close', () => backend.end());
    backend.on('close', () => {
      if (this.cancelKey !== undefined) this.options.cancelRegistry.unregister(this.cancelKey);
      client.end();
    });
    client.resume();
  }

  /** Closes both connections at once (server shutdown). */
  destroy(): void {
    this.client.destroy();
    this.backend.destroy();
  }

  /** Forwards a chunk from the client; false when PostgreSQL's socket is full and reading must pause. */
  private forwardFromClient(chunk: Buffer): boolean {
    try {
      return this.toBackend.push(chunk);
    } catch (error) {
      this.abort(error);
      return false;
    }
  }

  /** Forwards a chunk from PostgreSQL; false when the client's socket is full and reading must pause. */
  private forwardFromBackend(chunk: Buffer): boolean {
    this.backendSpoke = true;
    try {
      return this.toClient.push(chunk);
    } catch (error) {
      this.abort(error);
      return false;
    }
  }

  private abort(error: unknown): void {
    const pgError = error instanceof PgError ? error : PgError.internal();
    if (!(error instanceof PgError)) this.logger.error({ err: error }, 'internal error in session');
    this.logger.debug({ code: pgError.code, message: pgError.message }, 'closing session');
    this.backend.destroy();
    this.client.end(writeErrorResponse(pgError));
  }

  private inspectBackend(type: number, message: Buffer): Buffer | undefined {
    switch (type) {
      case BackendType.authentication:
        return this.clientTls ? withoutChannelBinding(message) : undefined;
      case BackendType.backendKeyData:
        this.cancelKey = this.options.cancelRegistry.register(parseBackendKeyData(message), this.options.backend);
        return undefined;
      case BackendType.readyForQuery:
        if (this.started) return this.rewriter?.fromServer(type, message);
        // The first one ends the startup phase.
        this.started = true;
        this.toClient.wholeMessageTypes =
          this.rewriter === undefined ? STARTUP_DONE : STEADY_BACKEND_MESSAGES;
        return undefined;
      case BackendType.parameterStatus: {
        if (this.rewriter === undefined) return undefined;
        const { name, value } = parseParameterStatus(message);
        if (name === 'standard_conforming_strings') this.rewriter.standardConformingStrings = value === 'on';
        if (name === 'client_encoding') this.rewriter.codec = codecFor(value);
        return undefined;
      }
      default:
        return this.rewriter?.fromServer(type, message);
    }
  }
}
