import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { systemUser } from '../../src/postgres/process-utils.js';
import type { Credentials, Target } from './pgbench.js';
import { runPsql } from './pgbench.js';
import { captureTail, freePort, runCommand, sleep, stopChild } from './processes.js';

const READY_TIMEOUT_MS = 20_000;

/** Where pgbouncer reaches PostgreSQL: a Unix socket directory (or a host) and a port. */
export interface BackendEndpoint {
  readonly host: string;
  readonly port: number;
}

export interface RunningPgbouncer {
  readonly port: number;
  stop(): Promise<void>;
}

/** The pgbouncer binary, installed from the Debian package when missing. */
export async function ensurePgbouncer(): Promise<string> {
  const found = await findPgbouncer();
  if (found !== undefined) return found;
  process.stderr.write('pgbouncer not found: installing the Debian package\n');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let install = await runCommand('apt-get', ['install', '-y', 'pgbouncer'], { env });
  if (install.code !== 0) {
    // A fresh container often has no package lists yet.
    await runCommand('apt-get', ['update'], { env });
    install = await runCommand('apt-get', ['install', '-y', 'pgbouncer'], { env });
  }
  const installed = await findPgbouncer();
  if (installed === undefined) {
    throw new Error(`could not install pgbouncer:\n${`${install.stdout}${install.stderr}`.slice(-3000)}`);
  }
  return installed;
}

/** PATH first, then /usr/sbin, where Debian puts it but which a non-login PATH may lack. */
async function findPgbouncer(): Promise<string | undefined> {
  const which = await runCommand('sh', ['-c', 'command -v pgbouncer']);
  const onPath = which.stdout.trim();
  if (which.code === 0 && onPath !== '') return onPath;
  return existsSync('/usr/sbin/pgbouncer') ? '/usr/sbin/pgbouncer' : undefined;
}

/**
 * Starts pgbouncer in session mode in the foreground, its config, auth file
 * and log in `dir`. pgbouncer refuses to run as root, so then it runs as the
 * `postgres` user (which also owns the cluster's socket directory).
 */
export async function startPgbouncer(
  binary: string,
  dir: string,
  backend: BackendEndpoint,
  credentials: Credentials,
): Promise<RunningPgbouncer> {
  const runAs = await unprivilegedUser();
  const port = await freePort();
  const ini = await writeConfig(dir, port, backend, credentials);
  if (runAs !== undefined) await chownAll(dir, runAs);
  const child = spawn(binary, [ini], { ...(runAs ?? {}), stdio: ['ignore', 'pipe', 'pipe'] });
  const tail = captureTail(child);
  const running: RunningPgbouncer = { port, stop: () => stopChild(child, 'SIGTERM') };
  try {
    await waitUntilServing(child, { name: 'pgbouncer', host: '127.0.0.1', port }, credentials, tail);
  } catch (error) {
    await running.stop();
    throw error;
  }
  return running;
}

async function unprivilegedUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const user = await systemUser('postgres');
  if (user === undefined)
    throw new Error('running as root, but there is no postgres user to run pgbouncer as');
  return user;
}

async function writeConfig(
  dir: string,
  port: number,
  backend: BackendEndpoint,
  credentials: Credentials,
): Promise<string> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const authFile = path.join(dir, 'userlist.txt');
  // A plain password lets pgbouncer answer the client's SCRAM and do SCRAM to PostgreSQL itself.
  await fs.writeFile(authFile, `"${credentials.user}" "${credentials.password}"\n`, { mode: 0o600 });
  const ini = path.join(dir, 'pgbouncer.ini');
  const db = credentials.database;
  const lines = [
    '[databases]',
    `${db} = host=${backend.host} port=${backend.port} dbname=${db}`,
    '',
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    // No Unix socket of its own: pgbench reaches every target over TCP.
    'unix_socket_dir =',
    'auth_type = scram-sha-256',
    `auth_file = ${authFile}`,
    'pool_mode = session',
    'max_client_conn = 100',
    'default_pool_size = 20',
    `logfile = ${path.join(dir, 'pgbouncer.log')}`,
    `pidfile = ${path.join(dir, 'pgbouncer.pid')}`,
    // procgate runs at log level warn: keep pgbouncer from logging every connection too.
    'log_connections = 0',
    'log_disconnections = 0',
    '',
  ];
  await fs.writeFile(ini, lines.join('\n'), { mode: 0o600 });
  return ini;
}

async function chownAll(dir: string, owner: { uid: number; gid: number }): Promise<void> {
  await fs.chown(dir, owner.uid, owner.gid);
  for (const entry of await fs.readdir(dir)) await fs.chown(path.join(dir, entry), owner.uid, owner.gid);
}

/** Polls with psql, which also proves that authentication through pgbouncer works. */
async function waitUntilServing(
  child: ChildProcess,
  target: Target,
  credentials: Credentials,
  tail: () => string,
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`pgbouncer exited (code ${child.exitCode}, signal ${child.signalCode}): ${tail()}`);
    }
    const result = await runPsql(target, credentials, 'SELECT 1');
    if (result.code === 0) return;
    lastError = result.stderr.trim();
    await sleep(200);
  }
  throw new Error(`pgbouncer not serving after ${READY_TIMEOUT_MS} ms: ${lastError}\n${tail()}`);
}
