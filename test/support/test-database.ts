import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { migrate, syncProcedureTypes } from '../../src/catalog/index.js';
import { TYPES } from '../../src/builtins/index.js';
import { silentLogger } from '../../src/log/logger.js';
import { ProxyServer, type TlsFiles } from '../../src/proxy/proxy-server.js';
import { ProcedureCache } from '../../src/server/procedure-cache.js';
import type { SharedPostgres } from './global-setup.js';

export function sharedPostgres(): SharedPostgres {
  return inject('postgres');
}

/** Superuser connection settings for a database of the shared PostgreSQL. */
export function adminConfig(database = 'postgres'): pg.ClientConfig {
  const shared = sharedPostgres();
  return { host: shared.host, port: shared.port, user: shared.user, password: shared.password, database };
}

/** The URL of a connection's settings, for what takes a URL (the CLI, the catalog cache). */
export function connectionUrl(config: pg.ClientConfig): string {
  const { user, password, host, port, database } = config;
  return `postgres://${user}:${encodeURIComponent(String(password))}@${host}:${port}/${database}`;
}

export interface TestDatabase {
  readonly name: string;
  /** Connection settings straight to PostgreSQL. */
  readonly direct: pg.ClientConfig;
  drop(): Promise<void>;
}

/** Creates a database of its own for one test file on the shared PostgreSQL. */
export async function createTestDatabase(prefix: string): Promise<TestDatabase> {
  const name = `${prefix.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const client = new pg.Client(adminConfig());
  await client.connect();
  await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  await client.end();
  return {
    name,
    direct: adminConfig(name),
    drop: async () => {
      const dropper = new pg.Client(adminConfig());
      await dropper.connect();
      await dropper.query(`DROP DATABASE IF EXISTS ${dropper.escapeIdentifier(name)} WITH (FORCE)`);
      await dropper.end();
    },
  };
}

export interface TestProxy {
  readonly server: ProxyServer;
  readonly host: string;
  readonly port: number;
  /** Connection settings through procgate for `database`. */
  config(database: string): pg.ClientConfig;
  url(database: string): string;
  close(): Promise<void>;
}

export interface TestProxyOptions {
  readonly tls?: TlsFiles;
  readonly maxMessageSize?: number;
  /** Install the procgate schema in this database and recognise our statements in sessions on it. */
  readonly statements?: TestDatabase;
}

/** Starts procgate's proxy on port 0 in front of the shared PostgreSQL. */
export async function startTestProxy(options: TestProxyOptions = {}): Promise<TestProxy> {
  const shared = sharedPostgres();
  const cache = options.statements === undefined ? undefined : await installCatalog(options.statements);
  const server = new ProxyServer({
    backend: shared.backend,
    logger: silentLogger(),
    tls: options.tls,
    maxMessageSize: options.maxMessageSize,
    statements:
      cache === undefined || options.statements === undefined
        ? undefined
        : { database: options.statements.name, catalog: cache },
  });
  const { port } = await server.listen(0, '127.0.0.1');
  return {
    server,
    host: '127.0.0.1',
    port,
    config: (database) => ({
      host: '127.0.0.1',
      port,
      user: shared.user,
      password: shared.password,
      database,
    }),
    url: (database) =>
      `postgres://${shared.user}:${encodeURIComponent(shared.password)}@127.0.0.1:${port}/${database}`,
    close: async () => {
      await server.close(0);
      await cache?.close();
    },
  };
}

/** Migrates `db` as the server does at start and opens the proxy's catalog cache on it. */
async function installCatalog(db: TestDatabase): Promise<ProcedureCache> {
  const admin = new pg.Client(db.direct);
  await admin.connect();
  await migrate(admin);
  await syncProcedureTypes(admin, TYPES.values());
  await admin.end();
  return ProcedureCache.open(connectionUrl(db.direct), silentLogger());
}

/** Backend connections to `database` other than the one asking. */
export async function countBackends(database: string): Promise<number> {
  const client = new pg.Client(adminConfig());
  await client.connect();
  const result = await client.query<{ n: string }>(
    "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'",
    [database],
  );
  await client.end();
  return Number(result.rows[0]?.n ?? 0);
}

/** Polls until `predicate` holds or `timeoutMs` passes; returns its last value. */
export async function eventually<T>(
  read: () => Promise<T>,
  predicate: (value: T) => boolean,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (predicate(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A test file's own database and the proxy in front of it, ready inside its tests. */
export interface ProxiedDatabase {
  readonly db: TestDatabase;
  readonly proxy: TestProxy;
}

/**
 * Gives the calling test file its own database and a proxy in front of it
 * (with procgate's statements when `statements` is set), created before its
 * tests and removed after them.
 */
export function useProxiedDatabase(
  prefix: string,
  options: Omit<TestProxyOptions, 'statements'> & { readonly statements?: boolean } = {},
): ProxiedDatabase {
  let db: TestDatabase | undefined;
  let proxy: TestProxy | undefined;
  beforeAll(async () => {
    db = await createTestDatabase(prefix);
    const { statements, ...rest } = options;
    proxy = await startTestProxy({ ...rest, ...(statements === true ? { statements: db } : {}) });
  });
  afterAll(async () => {
    await proxy?.close();
    await db?.drop();
  });
  return {
    get db() {
      if (db === undefined) throw new Error('used outside a test');
      return db;
    },
    get proxy() {
      if (proxy === undefined) throw new Error('used outside a test');
      return proxy;
    },
  };
}
