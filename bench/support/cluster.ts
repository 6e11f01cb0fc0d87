import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../../src/log/logger.js';
import { type EmbeddedCluster, startEmbeddedCluster } from '../../src/postgres/embedded-cluster.js';
import type { Cleanup } from './cleanup.js';
import type { BackendEndpoint } from './pgbouncer.js';
import { progress } from './settings.js';

/** The database every benchmark measures in. */
export const DATABASE = 'bench';

export interface BenchClusterOptions {
  /** Of the temp dir; short, so the cluster's Unix socket path fits sun_path. */
  readonly prefix: string;
  readonly logger: Logger;
  /**
   * Statements for the `postgres` database before the measurements, such as
   * ALTER SYSTEM of a preloaded library: the cluster then starts a second
   * time for them to take effect.
   */
  readonly setup?: readonly string[];
}

export interface BenchCluster {
  readonly cluster: EmbeddedCluster;
  /** The temp dir holding the cluster, for whatever else the bench keeps beside it. */
  readonly dir: string;
  /** For PostgreSQL's CPU time: its backends are the postmaster's children. */
  readonly postmasterPid: number;
}

/** An embedded PostgreSQL with the bench database, torn down (and its temp dir removed) by `cleanup`. */
export async function startBenchCluster(cleanup: Cleanup, options: BenchClusterOptions): Promise<BenchCluster> {
  const dir = await mkdtemp(path.join(os.tmpdir(), options.prefix));
  cleanup.add('remove temp dir', () => rm(dir, { recursive: true, force: true }));
  // mkdtemp makes it 0700; PostgreSQL (and pgbouncer) run as `postgres` when we are root and must get through.
  await chmod(dir, 0o755);
  progress('starting PostgreSQL');
  const start = (): Promise<EmbeddedCluster> => startEmbeddedCluster({ dataDir: dir, logger: options.logger });
  let cluster: EmbeddedCluster;
  if (options.setup === undefined) {
    cluster = await start();
    cleanup.add('stop PostgreSQL', () => cluster.stop());
    await adminQuery(cluster, [`CREATE DATABASE ${DATABASE}`]);
  } else {
    // Once to initialise it and run the setup, again for that to take effect.
    const first = await start();
    try {
      await adminQuery(first, [`CREATE DATABASE ${DATABASE}`, ...options.setup]);
    } finally {
      await first.stop();
    }
    cluster = await start();
    cleanup.add('stop PostgreSQL', () => cluster.stop());
  }
  const postmasterPid = Number(readFileSync(path.join(dir, 'pgdata', 'postmaster.pid'), 'utf8').split('\n')[0]);
  return { cluster, dir, postmasterPid };
}

async function adminQuery(cluster: EmbeddedCluster, statements: readonly string[]): Promise<void> {
  const admin = new pg.Client({ connectionString: cluster.url('postgres') });
  await admin.connect();
  try {
    for (const statement of statements) await admin.query(statement);
  } finally {
    await admin.end();
  }
}

/**
 * Where procgate (and pgbouncer) reach PostgreSQL, the way procgate does in
 * production: its Unix socket (a directory plus the port, as libpq names
 * it), or TCP when the cluster had to fall back to it.
 */
export function socketBackend(cluster: EmbeddedCluster): BackendEndpoint {
  const { backend } = cluster;
  return backend.kind === 'unix'
    ? { host: path.dirname(backend.path), port: cluster.port }
    : { host: backend.host, port: backend.port };
}

/** procgate's --database URL: pg-connection-string reads a socket directory from `?host=`, which a URL authority cannot hold. */
export function procgateDatabaseUrl(cluster: EmbeddedCluster): string {
  const backend = socketBackend(cluster);
  if (!backend.host.startsWith('/')) return cluster.url(DATABASE);
  const auth = `${encodeURIComponent(cluster.user)}:${encodeURIComponent(cluster.password)}`;
  return `postgres://${auth}@/${DATABASE}?host=${encodeURIComponent(backend.host)}&port=${String(backend.port)}`;
}

/** Straight to PostgreSQL, closed by `cleanup`: setup, watching runs, the native baselines. */
export async function connectDirect(cluster: EmbeddedCluster, cleanup: Cleanup): Promise<pg.Client> {
  const direct = new pg.Client({ connectionString: cluster.url(DATABASE), application_name: 'bench direct' });
  await direct.connect();
  cleanup.add('close the direct connection', () => direct.end());
  // As sessions through procgate see it: the superuser is named procgate, so "$user" would be the procgate schema.
  await direct.query('SET search_path = public');
  return direct;
}

/** `count` clients of procgate's port, as users reach it. */
export function connectThroughProcgate(cluster: EmbeddedCluster, port: number, count: number): Promise<pg.Client[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const client = new pg.Client({
        host: '127.0.0.1',
        port,
        user: cluster.user,
        password: cluster.password,
        database: DATABASE,
        application_name: 'bench client',
      });
      await client.connect();
      return client;
    }),
  );
}

export async function closeAll(clients: readonly pg.Client[]): Promise<void> {
  await Promise.allSettled(clients.map((client) => client.end()));
}
