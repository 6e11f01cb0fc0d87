import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../log/logger.js';
import type { BackendAddress } from '../proxy/backend-address.js';
import { DataDirLock } from './data-dir-lock.js';
import { initdb, makeTraversable, postgresUser, type RunAs } from './initdb.js';
import { postgresBinaries } from './postgres-binaries.js';
import { isProcessAlive, processCommandLine, waitForExit } from './process-utils.js';

/** The superuser and database procgate creates in its embedded cluster. */
export const EMBEDDED_USER = 'procgate';
export const EMBEDDED_DATABASE = 'procgate';

export interface EmbeddedClusterOptions {
  /** procgate's data directory; the cluster lives in its `pgdata` folder. */
  readonly dataDir: string;
  /** The superuser's password; when absent, one generated on first start and kept in the data dir. */
  readonly password?: string | undefined;
  readonly logger: Logger;
}

/** A running embedded PostgreSQL, reachable only from this machine. */
export interface EmbeddedCluster {
  /** Where sessions reach it: its Unix socket when the path fits, else loopback TCP. */
  readonly backend: BackendAddress;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** A connection URL for a database of the cluster (TCP). */
  url(database?: string): string;
  /** Fast shutdown: sessions are ended with a FATAL message, then the server exits. */
  stop(): Promise<void>;
}

/** sun_path holds 108 bytes on Linux, 104 on macOS. */
const MAX_SOCKET_PATH = 100;
const READY_LINE = 'database system is ready to accept connections';

/**
 * Starts procgate's embedded PostgreSQL in `dataDir`: initialised on first
 * start, reused afterwards. A server left running by a procgate that was
 * killed is shut down first; a data dir held by a live procgate is refused.
 */
export async function startEmbeddedCluster(options: EmbeddedClusterOptions): Promise<EmbeddedCluster> {
  const { logger } = options;
  const dataDir = path.resolve(options.dataDir);
  const pgdata = path.join(dataDir, 'pgdata');
  // Ours alone; when we run as root, traversable by the postgres user too (see makeTraversable).
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const lock = await DataDirLock.acquire(dataDir);
  try {
    const passwords = await resolvePasswords(dataDir, options.password);
    const password = passwords.wanted;
    const runAs = await postgresUser();
    if (runAs !== undefined) await makeTraversable(dataDir);
    const binaries = await postgresBinaries();
    let currentPassword = passwords.current;
    if (!existsSync(path.join(pgdata, 'PG_VERSION'))) {
      logger.info({ pgdata }, 'initialising embedded PostgreSQL');
      await initdb(binaries.initdb, pgdata, EMBEDDED_USER, password, runAs);
      currentPassword = password;
    }
    await stopOrphanedServer(pgdata, logger);

    const port = await freePort();
    const socketPath = path.join(pgdata, `.s.PGSQL.${port}`);
    const useSocket = Buffer.byteLength(socketPath) <= MAX_SOCKET_PATH;
    const child = await launch(binaries.postgres, pgdata, port, useSocket ? pgdata : '', runAs, logger);
    const host = '127.0.0.1';
    const cluster: EmbeddedCluster = {
      backend: useSocket ? { kind: 'unix', path: socketPath } : { kind: 'tcp', host, port },
      host,
      port,
      user: EMBEDDED_USER,
      password,
      url: (database = EMBEDDED_DATABASE) =>
        `postgres://${EMBEDDED_USER}:${encodeURIComponent(password)}@${host}:${port}/${database}`,
      stop: async () => {
        await shutdown(child);
        await lock.release();
      },
    };
    try {
      await prepareCluster(cluster, currentPassword ?? password);
      if (passwords.current !== password) {
        await fs.writeFile(passwordFile(dataDir), `${password}\n`, { mode: 0o600 });
      }
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    logger.info({ port, pgdata }, 'embedded PostgreSQL started');
    return cluster;
  } catch (error) {
    await lock.release();
    throw error;
  }
}

interface Passwords {
  /** The password the superuser must have from now on. */
  readonly wanted: string;
  /** The password it has now, as kept in the data dir (absent before the first start). */
  readonly current: string | undefined;
}

async function resolvePasswords(dataDir: string, given: string | undefined): Promise<Passwords> {
  const current = (await fs.readFile(passwordFile(dataDir), 'utf8').catch(() => undefined))?.trim();
  return { wanted: given ?? current ?? randomBytes(18).toString('base64url'), current };
}

function passwordFile(dataDir: string): string {
  return path.join(dataDir, 'password');
}

/**
 * A procgate killed with SIGKILL leaves its PostgreSQL running (or a stale
 * postmaster.pid). Since we hold the data dir lock, no live procgate owns that
 * server: stop it, but only if it really is a postgres on this data dir.
 */
async function stopOrphanedServer(pgdata: string, logger: Logger): Promise<void> {
  const pidFile = path.join(pgdata, 'postmaster.pid');
  const content = await fs.readFile(pidFile, 'utf8').catch(() => undefined);
  if (content === undefined) return;
  const pid = Number.parseInt(content.split('\n')[0] ?? '', 10);
  if (!Number.isInteger(pid) || !isProcessAlive(pid)) return;
  const commandLine = await processCommandLine(pid);
  if (commandLine !== undefined && !(commandLine.includes('postgres') && commandLine.includes(pgdata))) {
    // The pid was reused by an unrelated process: the file is stale and PostgreSQL would refuse it.
    await fs.rm(pidFile, { force: true });
    return;
  }
  logger.warn({ pid }, 'stopping a PostgreSQL left running by an earlier procgate');
  process.kill(pid, 'SIGINT');
  if (!(await waitForExit(pid, 30_000))) {
    process.kill(pid, 'SIGQUIT');
    await waitForExit(pid, 10_000);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts the postmaster and resolves once it accepts connections. Where
 * `setpriv` exists it is asked to deliver SIGINT to PostgreSQL if procgate
 * dies, so even a SIGKILL of procgate leaves no server running (the
 * server's own process group keeps it from a terminal's Ctrl-C).
 */
async function launch(
  postgresBin: string,
  pgdata: string,
  port: number,
  socketDir: string,
  runAs: RunAs,
  logger: Logger,
): Promise<ChildProcess> {
  const args = [
    '-D',
    pgdata,
    '-p',
    String(port),
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    `unix_socket_directories=${socketDir}`,
  ];
  const usePdeathsig = process.platform === 'linux' && existsSync('/usr/bin/setpriv');
  const [command, commandArgs] = usePdeathsig
    ? ['/usr/bin/setpriv', ['--pdeathsig', 'SIGINT', '--', postgresBin, ...args]]
    : [postgresBin, args];
  const child = spawn(command, commandArgs, {
    ...(runAs ?? {}),
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LC_MESSAGES: 'C' },
    // A process group of its own: Ctrl-C in procgate's terminal signals the whole foreground
    // group, and PostgreSQL must not shut down under the engine and the sessions; procgate
    // stops it last, in order.
    detached: true,
  });
  const log = logger.child({ component: 'postgres' });
  await new Promise<void>((resolve, reject) => {
    let tail = '';
    const onOutput = (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      tail = (tail + text).slice(-4000);
      for (const line of text.split('\n')) if (line.trim() !== '') log.debug(line);
      if (tail.includes(READY_LINE)) resolve();
    };
    child.stdout?.on('data', onOutput);
    child.stderr?.on('data', onOutput);
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      reject(
        new Error(`embedded PostgreSQL exited during start (code ${code}, signal ${signal}): ${tail.trim()}`),
      ),
    );
  });
  child.removeAllListeners('exit');
  child.on('exit', (code, signal) => log.info({ code, signal }, 'embedded PostgreSQL exited'));
  return child;
}

async function shutdown(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGQUIT'), 30_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Creates the `procgate` database on first start and gives the superuser the
 * wanted password when it has another one (`--password` changed).
 */
async function prepareCluster(cluster: EmbeddedCluster, currentPassword: string): Promise<void> {
  const client = new pg.Client({
    host: cluster.host,
    port: cluster.port,
    user: cluster.user,
    password: currentPassword,
    database: 'postgres',
  });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [EMBEDDED_DATABASE]);
    if (exists.rowCount === 0)
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(EMBEDDED_DATABASE)}`);
    if (currentPassword !== cluster.password) {
      await client.query(
        `ALTER ROLE ${client.escapeIdentifier(EMBEDDED_USER)} PASSWORD ${client.escapeLiteral(cluster.password)}`,
      );
    }
  } finally {
    await client.end();
  }
}
