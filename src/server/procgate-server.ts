import path from 'node:path';
import pg from 'pg';
import { TYPES } from '../builtins/index.js';
import { migrate, syncProcedureTypes } from '../catalog/index.js';
import { Engine, type EngineOptions } from '../engine/engine.js';
import type { Logger } from '../log/logger.js';
import { EMBEDDED_DATABASE, startEmbeddedCluster } from '../postgres/embedded-cluster.js';
import { openExternalDatabase } from '../postgres/external-database.js';
import type { BackendAddress } from '../proxy/backend-address.js';
import { ProxyServer, type TlsFiles } from '../proxy/proxy-server.js';
import { ProcedureCache } from './procedure-cache.js';

export interface ProcgateServerOptions {
  /** An existing PostgreSQL; without it an embedded one is started in `dataDir`. */
  readonly databaseUrl?: string | undefined;
  readonly dataDir: string;
  readonly password?: string | undefined;
  readonly host: string;
  readonly port: number;
  readonly tls?: TlsFiles | undefined;
  readonly maxMessageSize: number;
  /** Segments the built-in engine runs at once. */
  readonly slots: number;
  /** Keep the directories of segments that did not succeed. */
  readonly keepFailedWorkdirs?: boolean;
  /** The directory TYPE 'import.csv' and 'export.csv' read and write. */
  readonly filesDir?: string | undefined;
  /**
   * Where the engine keeps its run-time files (see EngineDirectory);
   * default: the data dir's `run/` with the embedded PostgreSQL, the
   * engine's default (`<tmpdir>/procgate-<uid>`) with another.
   */
  readonly runDirectory?: string | undefined;
  /** The uids users' programs run as when procgate is root; the engine's default without it. */
  readonly sandboxUids?: EngineOptions['sandboxUids'];
  /** Not root: members of procgate_developer may still run code, as procgate's own user. */
  readonly trustDevelopers?: boolean;
  /** The engine's lease, heartbeat and sweep periods; the engine's defaults without it. */
  readonly leaseTimings?: Pick<EngineOptions, 'leaseMs' | 'heartbeatMs' | 'sweepMs'>;
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

/** What serves clients once PostgreSQL is there. */
interface FrontEnd {
  readonly proxy: ProxyServer;
  readonly catalog: ProcedureCache;
  readonly port: number;
}

/**
 * Starts procgate: the PostgreSQL behind it (embedded unless a URL is given),
 * the procgate schema in its database, and the wire front end.
 */
export async function startProcgateServer(options: ProcgateServerOptions): Promise<ProcgateServer> {
  const { logger } = options;
  if (options.databaseUrl !== undefined) {
    const database = await openExternalDatabase(options.databaseUrl);
    const front = await startFrontEnd(
      options,
      options.databaseUrl,
      database.backend,
      database.database ?? database.user ?? '',
    );
    const engine = await startEngine(options, options.runDirectory, options.databaseUrl, async () => {
      await front.proxy.close(0);
      await front.catalog.close();
    });
    const user = database.user === undefined ? '' : `${encodeURIComponent(database.user)}@`;
    return {
      url: `postgres://${user}${urlHost(options.host)}:${front.port}/${encodeURIComponent(database.database ?? '')}`,
      host: options.host,
      port: front.port,
      backend: database.backend,
      stop: async () => {
        await engine.stop();
        await front.proxy.close(0);
        await front.catalog.close();
      },
    };
  }

  const cluster = await startEmbeddedCluster({
    dataDir: options.dataDir,
    password: options.password,
    logger,
  });
  let front: FrontEnd;
  try {
    front = await startFrontEnd(options, cluster.url(), cluster.backend, EMBEDDED_DATABASE);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  const runDirectory = options.runDirectory ?? path.join(path.resolve(options.dataDir), 'run');
  const engine = await startEngine(options, runDirectory, cluster.url(), async () => {
    await front.proxy.close(0);
    await front.catalog.close();
    await cluster.stop();
  });
  return {
    url: `postgres://${cluster.user}:${encodeURIComponent(cluster.password)}@${urlHost(options.host)}:${front.port}/${EMBEDDED_DATABASE}`,
    host: options.host,
    port: front.port,
    backend: cluster.backend,
    stop: async () => {
      // The engine first: its segments end (as failed, "engine stopped") while PostgreSQL can still record it.
      await engine.stop();
      // Stop accepting first; PostgreSQL's fast shutdown then ends each session with a FATAL message
      // that reaches its client through the proxy.
      const closing = front.proxy.close(SHUTDOWN_GRACE_MS);
      await front.catalog.close();
      await cluster.stop();
      await closing;
    },
  };
}

/** Installs or upgrades the procgate schema, opens the catalog cache and starts listening. */
async function startFrontEnd(
  options: ProcgateServerOptions,
  connectionString: string,
  backend: BackendAddress,
  database: string,
): Promise<FrontEnd> {
  const { logger } = options;
  const client = new pg.Client({ connectionString, application_name: 'procgate migrate' });
  await client.connect();
  try {
    const { applied, version } = await migrate(client, logger);
    await syncProcedureTypes(client, TYPES.values());
    logger.info({ applied, version }, 'procgate schema ready');
  } finally {
    await client.end();
  }
  const catalog = await ProcedureCache.open(connectionString, logger);
  const proxy = new ProxyServer({
    backend,
    logger,
    tls: options.tls,
    maxMessageSize: options.maxMessageSize,
    statements: { database, catalog },
  });
  try {
    const { port } = await proxy.listen(options.port, options.host);
    return { proxy, catalog, port };
  } catch (error) {
    await catalog.close();
    throw error;
  }
}

/** Starts the built-in engine after the front end; if it cannot start, `undo` takes the rest down. */
async function startEngine(
  options: ProcgateServerOptions,
  runDirectory: string | undefined,
  connectionString: string,
  undo: () => Promise<void>,
): Promise<Engine> {
  const engine = new Engine({
    slots: options.slots,
    logger: options.logger,
    keepFailedWorkdirs: options.keepFailedWorkdirs === true,
    filesDir: options.filesDir,
    procedureTypes: TYPES,
    runDirectory,
    sandboxUids: options.sandboxUids,
    trustDevelopers: options.trustDevelopers,
    ...options.leaseTimings,
  });
  try {
    await engine.start(connectionString);
  } catch (error) {
    await undo();
    throw error;
  }
  return engine;
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
