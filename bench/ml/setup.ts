/** bench:ml's sizes, its PostgreSQL with procgate in front, the synthetic tables, and running one EXECUTE. */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { EmbeddedCluster } from '../../src/postgres/embedded-cluster.js';
import { syntheticRows } from '../generate-synthetic.js';
import type { Cleanup } from '../support/cleanup.js';
import { connectDirect, connectThroughProcgate, procgateDatabaseUrl, startBenchCluster } from '../support/cluster.js';
import { PostgresLog } from '../support/postgres-log.js';
import { startProcgate } from '../support/procgate.js';
import { type FinishedRun, submit, waitForRun } from '../support/runs.js';
import { positiveInteger, progress } from '../support/settings.js';

export const FEATURES = 8;
export const CLASSES = 3;
export const SEED = 1;
export const SEGMENTS = 4;
export const TEST_SPLIT = 0.2;
export const MIN_SAMPLES = 3;
export const MODEL = 'bench_forest';
export const FEATURE_NAMES = Array.from({ length: FEATURES }, (_, i) => `f${String(i + 1)}`);

export interface Settings {
  readonly trainRows: number;
  readonly scoreRows: number;
  readonly trees: number;
  readonly maxDepth: number;
  readonly maxSamples: number;
  readonly rounds: number;
}

export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  return {
    trainRows: positiveInteger(env['BENCH_TRAIN_ROWS'], 100_000, 'BENCH_TRAIN_ROWS'),
    maxSamples: positiveInteger(env['BENCH_MAX_SAMPLES'], 2000, 'BENCH_MAX_SAMPLES'),
    scoreRows: positiveInteger(env['BENCH_SCORE_ROWS'], 1_000_000, 'BENCH_SCORE_ROWS'),
    trees: positiveInteger(env['BENCH_TREES'], 10, 'BENCH_TREES'),
    maxDepth: positiveInteger(env['BENCH_MAX_DEPTH'], 6, 'BENCH_MAX_DEPTH'),
    rounds: positiveInteger(env['BENCH_ROUNDS'], 5, 'BENCH_ROUNDS'),
  };
}

export interface MlBench {
  readonly cluster: EmbeddedCluster;
  readonly databaseUrl: string;
  /** Straight to PostgreSQL: loading, watching runs, the baselines. */
  readonly direct: pg.Client;
  /** Through procgate. */
  readonly client: pg.Client;
}

export async function startMlBench(cleanup: Cleanup): Promise<MlBench> {
  const { cluster } = await startBenchCluster(cleanup, { prefix: 'pgm-', logger: new PostgresLog().logger });
  const direct = await connectDirect(cluster, cleanup);
  const databaseUrl = procgateDatabaseUrl(cluster);
  progress('starting procgate');
  const procgate = await startProcgate(databaseUrl, { args: ['--slots', String(SEGMENTS)] });
  cleanup.add('stop procgate', () => procgate.stop());
  const [client] = await connectThroughProcgate(cluster, procgate.port, 1);
  cleanup.add('close the procgate connection', () => client!.end());
  return { cluster, databaseUrl, direct, client: client! };
}

/** A seeded synthetic table (f1..f8 double precision, label text), COPYed in. */
export async function loadSynthetic(bench: MlBench, table: string, rows: number, seed: number): Promise<void> {
  progress(`generating and COPYing ${String(rows)} rows into ${table}`);
  await bench.direct.query(`DROP TABLE IF EXISTS ${table}`);
  await bench.direct.query(
    `CREATE TABLE ${table} (${FEATURE_NAMES.map((name) => `${name} double precision`).join(', ')}, label text)`,
  );
  const lines = syntheticRows(rows, FEATURES, CLASSES, seed);
  const source = Readable.from(
    (function* batches(): Generator<string> {
      let batch: string[] = [];
      for (const line of lines) {
        batch.push(line);
        if (batch.length === 10_000) {
          yield `${batch.join('\n')}\n`;
          batch = [];
        }
      }
      if (batch.length > 0) yield `${batch.join('\n')}\n`;
    })(),
  );
  await pipeline(source, bench.direct.query(copyFrom(`COPY ${table} FROM STDIN WITH (FORMAT csv, HEADER true)`)));
  await bench.direct.query(`VACUUM ANALYZE ${table}`);
}

/** EXECUTEs through procgate and polls the run (directly, every 50 ms) until it ends; fails unless it succeeded. */
export async function execute(bench: MlBench, statement: string, label: string): Promise<FinishedRun> {
  return waitForRun(bench.direct, await submit(bench.client, statement), label);
}
