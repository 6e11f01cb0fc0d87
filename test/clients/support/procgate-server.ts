import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { type RunningCli, startCli } from '../../support/cli.js';

/** The procgate every client test talks to: a real `procgate serve`, as a user starts it. */
export interface ClientServer {
  /** The URL procgate printed, password included. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  /** The embedded PostgreSQL behind it, for comparing a client's behaviour with and without procgate. */
  readonly directPort: number;
  /** The server's --files-dir. */
  readonly filesDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    procgate: ClientServer;
  }
}

let server: RunningCli | undefined;
let dataDir: string | undefined;
let filesDir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  // A short path keeps the embedded PostgreSQL's Unix socket path within its limit.
  // procgate hands its data dir to the postgres user: it gets a directory of its own.
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'pgc-'));
  filesDir = await mkdtemp(path.join(os.tmpdir(), 'pgc-files-'));
  server = startCli([
    'serve',
    '--port',
    '0',
    '--data-dir',
    dataDir,
    '--files-dir',
    filesDir,
    '--password',
    'client-suite',
    '--slots',
    '4',
    '--log-level',
    'warn',
  ]);
  const url = new URL(await server.ready);
  // postmaster.pid's fourth line is the port the embedded PostgreSQL listens on.
  const pid = await readFile(path.join(dataDir, 'pgdata', 'postmaster.pid'), 'utf8');
  project.provide('procgate', {
    url: url.href,
    host: url.hostname,
    port: Number(url.port),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: url.pathname.slice(1),
    directPort: Number(pid.split('\n')[3]),
    filesDir,
  });
}

export async function teardown(): Promise<void> {
  if (server !== undefined) {
    server.child.kill('SIGTERM');
    await server.exited;
  }
  for (const dir of [dataDir, filesDir]) if (dir !== undefined) await rm(dir, { recursive: true, force: true });
}
