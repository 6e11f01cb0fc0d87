import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { run, systemUser } from './process-utils.js';

/*
 * Making a new cluster for the embedded PostgreSQL, as the user it will run as.
 */

/** The user PostgreSQL's programs run as: undefined for procgate's own. */
export type RunAs = { uid: number; gid: number } | undefined;

/**
 * The postgres user must reach pgdata through our data dir, and users'
 * programs (other uids) their segment's directory under `run/`: both only
 * pass through, so the data dir is 711, listable and readable by no one
 * else (its password file is 600 besides).
 */
export async function makeTraversable(dir: string): Promise<void> {
  const { mode } = await fs.stat(dir);
  if ((mode & 0o777) !== 0o711) await fs.chmod(dir, 0o711);
}

/** PostgreSQL refuses to run as root: then it runs as the `postgres` system user, created if missing. */
export async function postgresUser(): Promise<RunAs> {
  if (process.getuid?.() !== 0) return undefined;
  const existing = await systemUser('postgres');
  if (existing !== undefined) return existing;
  await run('groupadd', ['--system', 'postgres']).catch(() => undefined);
  await run('useradd', ['--system', '-g', 'postgres', '--no-create-home', 'postgres']);
  const created = await systemUser('postgres');
  if (created === undefined)
    throw new Error('could not create the postgres system user to run PostgreSQL as');
  return created;
}

/** A new cluster in pgdata (emptied first), its superuser with this password, scram-sha-256 only. */
export async function initdb(
  initdbBin: string,
  pgdata: string,
  superuser: string,
  password: string,
  runAs: RunAs,
): Promise<void> {
  const parent = path.dirname(pgdata);
  const pwfile = path.join(parent, `.initdb-${process.pid}`);
  await fs.writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  try {
    if (runAs !== undefined) await fs.chown(pwfile, runAs.uid, runAs.gid);
    await fs.rm(pgdata, { recursive: true, force: true });
    await fs.mkdir(pgdata, { mode: 0o700 });
    if (runAs !== undefined) await fs.chown(pgdata, runAs.uid, runAs.gid);
    await runToCompletion(
      initdbBin,
      [
        `--pgdata=${pgdata}`,
        `--username=${superuser}`,
        `--pwfile=${pwfile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--no-locale',
        '--no-instructions',
      ],
      runAs,
    );
  } finally {
    await fs.rm(pwfile, { force: true });
  }
}

function runToCompletion(command: string, args: readonly string[], runAs: RunAs): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], {
      ...(runAs ?? {}),
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_MESSAGES: 'C' },
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`${path.basename(command)} failed (code ${code}): ${output.trim()}`)),
    );
  });
}
