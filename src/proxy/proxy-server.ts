import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../log/logger.js';
import type { ProcedureCatalog } from '../sql/procedure-catalog.js';
import { DEFAULT_MAX_MESSAGE_SIZE } from '../wire/protocol.js';
import type { BackendAddress } from './backend-address.js';
import { CancelRegistry } from './cancel-registry.js';
import { Session } from './session.js';
import { negotiateStartup } from './startup-negotiation.js';
import { StatementRewriter } from './statement-rewriter.js';

export interface TlsFiles {
  /** PEM certificate chain. */
  readonly cert: string | Buffer;
  /** PEM private key. */
  readonly key: string | Buffer;
}

export interface ProxyServerOptions {
  readonly backend: BackendAddress;
  readonly logger: Logger;
  /** Terminate TLS for clients that ask for it; without it SSLRequest is answered 'N'. */
  readonly tls?: TlsFiles | undefined;
  readonly maxMessageSize?: number | undefined;
  /** How long a client may take to send its StartupMessage (PostgreSQL's authentication_timeout is 60 s). */
  readonly startupTimeoutMs?: number | undefined;
  /**
   * procgate's statements are recognised in sessions on the database that
   * holds the procgate schema; sessions on other databases are pure pass-through.
   */
  readonly statements?: { readonly database: string; readonly catalog: ProcedureCatalog } | undefined;
}

/**
 * Accepts PostgreSQL clients and gives each its own session with PostgreSQL.
 *
 * @example
 * const server = new ProxyServer({ backend: { kind: 'tcp', host: '127.0.0.1', port: 5432 }, logger });
 * const { port } = await server.listen(0, '127.0.0.1');
 */
export class ProxyServer {
  private readonly options: ProxyServerOptions;
  private readonly server: net.Server;
  private readonly secureContext: tls.SecureContext | undefined;
  private readonly cancelRegistry = new CancelRegistry();
  private readonly sessions = new Set<Session>();
  private readonly pending = new Set<net.Socket>();

  constructor(options: ProxyServerOptions) {
    this.options = options;
    this.secureContext = options.tls === undefined ? undefined : tls.createSecureContext(options.tls);
    this.server = net.createServer({ noDelay: true }, (socket) => void this.accept(socket));
  }

  /** Starts listening; port 0 picks a free port. */
  listen(port: number, host: string): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.removeListener('error', reject);
        resolve(this.server.address() as net.AddressInfo);
      });
    });
  }

  /** Number of sessions currently relaying. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * Stops accepting clients, then waits up to `graceMs` for open sessions to
   * end (PostgreSQL's own shutdown ends them with a FATAL message) before
   * closing what remains.
   */
  async close(graceMs = 0): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.pending) socket.destroy();
    const sessionsEnded = Promise.all([...this.sessions].map((session) => session.closed));
    if (graceMs > 0) {
      await Promise.race([sessionsEnded, new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
    }
    for (const session of this.sessions) session.destroy();
    await sessionsEnded;
    await stopped;
  }

  private async accept(socket: net.Socket): Promise<void> {
    const { logger } = this.options;
    socket.on('error', (error) => logger.debug({ err: error }, 'client connection error'));
    this.pending.add(socket);
    const negotiation = await negotiateStartup(socket, {
      secureContext: this.secureContext,
      cancelRegistry: this.cancelRegistry,
      timeoutMs: this.options.startupTimeoutMs ?? 60_000,
      logger,
    });
    this.pending.delete(socket);
    if (negotiation.kind === 'closed') return;

    // PostgreSQL's default database is the one named like the user.
    const database = negotiation.parameters.get('database') ?? negotiation.parameters.get('user');
    const sessionLogger = logger.child({
      user: negotiation.parameters.get('user'),
      database,
      tls: negotiation.tls,
    });
    const statements = this.options.statements;
    const session = new Session(negotiation.socket, negotiation.tls, {
      backend: this.options.backend,
      cancelRegistry: this.cancelRegistry,
      maxMessageSize: this.options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
      logger: sessionLogger,
      rewriter:
        statements !== undefined && statements.database === database
          ? new StatementRewriter(statements.catalog, sessionLogger)
          : undefined,
    });
    this.sessions.add(session);
    sessionLogger.debug('session started');
    session.start(negotiation.packet, negotiation.leftover);
    await session.closed;
    this.sessions.delete(session);
    sessionLogger.debug('session ended');
  }
}
