import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { silentLogger } from '../../src/log/logger.js';
import { type EmbeddedCluster, startEmbeddedCluster } from '../../src/postgres/embedded-cluster.js';
import type { BackendAddress } from '../../src/proxy/backend-address.js';

export interface SharedPostgres {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly backend: BackendAddress;
  /** procgate's data dir of the cluster (its password file, `pgdata/`). */
  readonly dataDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: SharedPostgres;
  }
}

let cluster: EmbeddedCluster | undefined;
let dataDir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  // A short path keeps the Unix socket path within its limit.
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'pgt-'));
  cluster = await startEmbeddedCluster({ dataDir, logger: silentLogger() });
  project.provide('postgres', {
    host: cluster.host,
    port: cluster.port,
    user: cluster.user,
    password: cluster.password,
    backend: cluster.backend,
    dataDir,
  });
}

export async function teardown(): Promise<void> {
  await cluster?.stop();
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
}
