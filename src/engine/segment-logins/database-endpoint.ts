import pg from 'pg';
import type { DatabaseLogin } from '../segment-database.js';

/** Where segments' programs reach PostgreSQL: where the engine's own connection does. */
export interface DatabaseEndpoint {
  /** A host name, an address, or a Unix socket's directory (starting with `/`). */
  readonly host: string;
  readonly port: number;
  readonly database: string;
  /** libpq's sslmode, when the engine's connection asks for TLS; undefined: libpq's default. */
  readonly sslmode: string | undefined;
}

/**
 * The endpoint of the engine's connection as `pg` resolves it (the URL or
 * the fields, then PG* variables, then its defaults). A URL's `sslmode` is
 * kept; settings that ask for TLS otherwise (`ssl`, PGSSLMODE) give `require`.
 */
export function databaseEndpoint(connection: string | pg.ClientConfig): DatabaseEndpoint {
  const config: pg.ClientConfig = typeof connection === 'string' ? { connectionString: connection } : connection;
  // Only reads the settings: a Client connects when asked to.
  const resolved = new pg.Client(config);
  const named = config.connectionString === undefined ? null : urlSslmode(config.connectionString);
  return {
    host: resolved.host,
    port: resolved.port,
    database: resolved.database ?? resolved.user ?? 'postgres',
    sslmode: named ?? (resolved.ssl ? 'require' : undefined),
  };
}

function urlSslmode(connectionString: string): string | null {
  try {
    return new URL(connectionString).searchParams.get('sslmode');
  } catch {
    return null;
  }
}

/**
 * A login's settings and what a program gets of them: libpq's variables
 * (psql, psycopg, pg, JDBC through PG* read them) and the same as a URL in
 * PROCGATE_DATABASE_URL, for drivers that take one.
 */
export function databaseLogin(
  endpoint: DatabaseEndpoint,
  user: string,
  password: string,
  applicationName: string,
): DatabaseLogin {
  const { host, port, database, sslmode } = endpoint;
  const query = new URLSearchParams({ application_name: applicationName });
  if (sslmode !== undefined) query.set('sslmode', sslmode);
  // A socket directory goes percent-encoded, an IPv6 address in brackets (libpq's URI rules).
  const hostPart = host.startsWith('/') ? encodeURIComponent(host) : host.includes(':') ? `[${host}]` : host;
  const url =
    `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${hostPart}:${String(port)}` +
    `/${encodeURIComponent(database)}?${query.toString().replaceAll('+', '%20')}`;
  return {
    host,
    port,
    database,
    user,
    password,
    environment: {
      PGHOST: host,
      PGPORT: String(port),
      PGDATABASE: database,
      PGUSER: user,
      PGPASSWORD: password,
      PGAPPNAME: applicationName,
      ...(sslmode === undefined ? {} : { PGSSLMODE: sslmode }),
      PROCGATE_DATABASE_URL: url,
    },
  };
}
