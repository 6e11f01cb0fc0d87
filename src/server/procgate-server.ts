import type { Logger } from '../log/logger.js';
import { startEmbeddedCluster } from '../postgres/embedded-cluster.js';
import { openExternalDatabase } from '../postgres/external-database.js';
import type { BackendAddress } from '../proxy/backend-address.js';
import { ProxyServer, type TlsFiles } from '../proxy/proxy-server.js';

export interface ProcgateServerOptions {
  /** An existing PostgreSQL; without it an embedded one is started in `dataDir`. */
  readonly databaseUrl?: string | undefined;
  readonly dataDir: string;
  readonly password?: string | undefined;
  readonly host: string;
  readonly port: number;
  readonly tls?: TlsFiles | undefined;
  readonly maxMessageSize: number;
  readonly logger: Logger;
}

export interface ProcgateServer {
  /** The URL to paste into psql (without a password when PostgreSQL is not ours). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly backend: BackendAddress;
  /** Stops accepting clients, ends sessions and stops the embedded PostgreSQL. */
  stop(): Promise<void>;
}

/** How long open sessions get to end on their own when the server stops. */
const SHUTDOWN_GRACE_MS = 5_000;

/**
 * Starts procgate: the PostgreSQL behind it (embedded unless a URL is given)
 * and the wire front end.
 */
export async function startProcgateServer(options: ProcgateServerOptions): Promise<ProcgateServer> {
  const { logger } = options;
  if (options.databaseUrl !== undefined) {
    const database = await openExternalDatabase(options.databaseUrl);
    const proxy = new ProxyServer({
      backend: database.backend,
      logger,
      tls: options.tls,
      maxMessageSize: options.maxMessageSize,
    });
    const address = await proxy.listen(options.port, options.host);
    const user = database.user === undefined ? '' : `${encodeURIComponent(database.user)}@`;
    return {
      url: `postgres://${user}${urlHost(options.host)}:${address.port}/${encodeURIComponent(database.database ?? '')}`,
      host: options.host,
      port: address.port,
      backend: database.backend,
      stop: () => proxy.close(0),
    };
  }

  const cluster = await startEmbeddedCluster({
    dataDir: options.dataDir,
    password: options.password,
    logger,
  });
  const proxy = new ProxyServer({
    backend: cluster.backend,
    logger,
    tls: options.tls,
    maxMessageSize: options.maxMessageSize,
  });
  let address: { port: number };
  try {
    address = await proxy.listen(options.port, options.host);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return {
    url: `postgres://${cluster.user}:${encodeURIComponent(cluster.password)}@${urlHost(options.host)}:${address.port}/procgate`,
    host: options.host,
    port: address.port,
    backend: cluster.backend,
    stop: async () => {
      // Stop accepting first; PostgreSQL's fast shutdown then ends each session with a FATAL message
      // that reaches its client through the proxy.
      const closing = proxy.close(SHUTDOWN_GRACE_MS);
      await cluster.stop();
      await closing;
    },
  };
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
