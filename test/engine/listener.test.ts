import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TYPES } from '../../src/builtins/index.js';
import { Engine } from '../../src/engine/engine.js';
import { silentLogger } from '../../src/log/logger.js';
import { eventually, useProxiedDatabase } from '../support/test-database.js';

const t = useProxiedDatabase('engine_listener', { statements: true });
let client: pg.Client;
let engine: Engine;

beforeAll(async () => {
  client = new pg.Client(t.db.direct);
  await client.connect();
  await client.query(`
    SELECT * FROM procgate.create_procedure(name => 'hello', language => 'command', command => 'echo',
                                            args => ARRAY['hi'], execution_mode => 'nondistributed')`);
  // No safety poll to speak of: only notifications can start runs quickly here.
  engine = new Engine({ slots: 1, logger: silentLogger(), pollMs: 60_000, procedureTypes: TYPES });
  await engine.start(t.db.direct);
});

afterAll(async () => {
  await engine.stop();
  await client.end();
});

async function stateOf(runId: string): Promise<string> {
  return (await client.query('SELECT state FROM procgate.runs WHERE run_id = $1', [runId])).rows[0].state;
}

describe('the engine listener', () => {
  it('reconnects after losing its connection, and runs are again started at once', async () => {
    const terminated = await client.query(
      "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'procgate engine listener' AND datname = current_database()",
    );
    expect(terminated.rows).toEqual([{ ok: true }]);
    const listeners = await eventually(
      async () =>
        (
          await client.query(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'procgate engine listener' AND datname = current_database()",
          )
        ).rows[0].n,
      (n) => n === 1,
      5000,
    );
    expect(listeners).toBe(1);
    const { rows } = await client.query(`SELECT run_id FROM procgate.execute('hello')`);
    const started = Date.now();
    expect(await eventually(() => stateOf(rows[0].run_id), (state) => state === 'succeeded', 5000)).toBe('succeeded');
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
