import pg from 'pg';
import { parse } from 'pg-connection-string';
import type { BackendAddress } from '../proxy/backend-address.js';

/** The oldest PostgreSQL procgate supports behind it. */
export const MIN_SERVER_VERSION_NUM = 140000;

export interface ExternalDatabase {
  readonly backend: BackendAddress;
  readonly user: string | undefined;
  readonly database: string | undefined;
}

/**
 * Reads where an existing PostgreSQL is from its URL and checks that it can
 * be reached and is new enough. Sessions authenticate to it themselves; the
 * URL's credentials serve only this check.
 */
export async function openExternalDatabase(url: string): Promise<ExternalDatabase> {
  const config = parse(url);
  const host = config.host ?? 'localhost';
  const port = Number.parseInt(config.port ?? '5432', 10);
  const backend: BackendAddress = host.startsWith('/')
    ? { kind: 'unix', path: `${host}/.s.PGSQL.${port}` }
    : { kind: 'tcp', host, port };
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query<{ server_version_num: string }>('SHOW server_version_num');
    const version = Number.parseInt(result.rows[0]?.server_version_num ?? '0', 10);
    if (version < MIN_SERVER_VERSION_NUM) {
      throw new Error(`PostgreSQL ${version} is too old: procgate needs PostgreSQL 14 or later`);
    }
  } finally {
    await client.end();
  }
  return { backend, user: config.user ?? undefined, database: config.database ?? undefined };
}
