import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { TYPES } from '../../src/builtins/index.js';
import { Engine, type EngineOptions } from '../../src/engine/engine.js';
import { createLogger, type LogLevel, silentLogger } from '../../src/log/logger.js';
import { eventually, type ProxiedDatabase } from './test-database.js';

/** An engine on a test file's database and a client through procgate, with helpers to follow runs. */
export interface EngineFixture<Row> {
  readonly engine: Engine;
  readonly client: pg.Client;
  /** Runs a statement that returns a run (EXECUTE PROCEDURE) and gives its id. */
  execute(statement: string): Promise<string>;
  /** The run's row in procgate.runs. */
  run(runId: string): Promise<Row>;
  /** The run's row once it has succeeded, failed or been killed. */
  finished(runId: string, timeoutMs?: number): Promise<Row>;
  /** The rows of a query through procgate. */
  query<Result extends object>(text: string, values?: unknown[]): Promise<Result[]>;
}

/** Starts an engine (4 slots, short kill grace) before the file's tests and stops it after them. */
export function useEngine<Row extends { state: string }>(
  t: ProxiedDatabase,
  options: Partial<Omit<EngineOptions, 'logger'>> = {},
): EngineFixture<Row> {
  let engine: Engine | undefined;
  let client: pg.Client | undefined;
  beforeAll(async () => {
    // PROCGATE_TEST_LOG=debug shows the engine's log while debugging a test.
    const level = process.env['PROCGATE_TEST_LOG'] as LogLevel | undefined;
    const logger = level === undefined ? silentLogger() : createLogger(level);
    engine = new Engine({ slots: 4, logger, killGraceMs: 500, procedureTypes: TYPES, ...options });
    await engine.start(t.db.direct);
    client = new pg.Client(t.proxy.config(t.db.name));
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
    await engine?.stop();
  });
  const fixture: EngineFixture<Row> = {
    get engine() {
      if (engine === undefined) throw new Error('used outside a test');
      return engine;
    },
    get client() {
      if (client === undefined) throw new Error('used outside a test');
      return client;
    },
    async execute(statement) {
      const { rows } = await fixture.client.query<{ run_id: string }>(statement);
      const runId = rows[0]?.run_id;
      if (runId === undefined) throw new Error('no run');
      return runId;
    },
    async run(runId) {
      const { rows } = await fixture.client.query<Row>('SELECT * FROM procgate.runs WHERE run_id = $1', [runId]);
      if (rows[0] === undefined) throw new Error(`no run ${runId}`);
      return rows[0];
    },
    async query<Result extends object>(text: string, values: unknown[] = []) {
      return (await fixture.client.query<Result>(text, values)).rows;
    },
    finished(runId, timeoutMs = 10_000) {
      return eventually(
        () => fixture.run(runId),
        (row) => ['succeeded', 'failed', 'killed'].includes(row.state),
        timeoutMs,
      );
    },
  };
  return fixture;
}
