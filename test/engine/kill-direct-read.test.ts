import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useEngine } from '../support/engine-fixture.js';
import { eventually, useProxiedDatabase } from '../support/test-database.js';

/**
 * A run is killed within 2 s while its segments still read their TABLE inputs
 * straight from the source, or while their output waits in a trigger of the
 * INTO table.
 */

const t = useProxiedDatabase('engine_kill_direct_read', { statements: true });

const fixture = useEngine<{ run_id: string; state: string }>(t);
const { execute, finished, query } = fixture;

const COPY = `
import json, os, shutil
control = json.load(open(os.environ['PROCGATE_CONTROL_FILE']))
for source, target in zip(control['inputs'], control['outputs']):
    shutil.copyfile(source['path'], target['path'])
`;

let gate: pg.Client;

beforeAll(async () => {
  await fixture.client.query('CREATE TABLE source AS SELECT g AS id FROM generate_series(1, 3000) g');
  await fixture.client.query('VACUUM source');
  await fixture.client.query(
    `CREATE FUNCTION wait_for_gate() RETURNS int LANGUAGE plpgsql VOLATILE
       AS $fn$ BEGIN PERFORM pg_advisory_xact_lock_shared(4343); RETURN 1; END $fn$`,
  );
  await fixture.client.query(
    `CREATE PROCEDURE copy_rows LANGUAGE command COMMAND 'python3' ARGS ('copy.py') FILES ('copy.py' = $1)`,
    [COPY],
  );
  gate = new pg.Client(t.db.direct);
  await gate.connect();
});

afterAll(async () => {
  await gate.end();
});

/**
 * Runs `statement` (two segments) while the gate is held, waits until both
 * segments wait on it, kills the run and checks it ended killed within 2 s;
 * returns the run's id.
 */
async function killWhileGated(statement: string): Promise<string> {
  await gate.query('BEGIN');
  await gate.query('SELECT pg_advisory_xact_lock(4343)');
  try {
    const runId = await execute(statement);
    await eventually(
      async () => (await query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = 4343 AND NOT granted`,
      ))[0]!.n,
      (n) => n === 2,
      10_000,
    );
    const killedAt = Date.now();
    await fixture.client.query('KILL RUNS OF PROCEDURE copy_rows');
    const row = await finished(runId, 2_000);
    expect(row.state).toBe('killed');
    expect(Date.now() - killedAt).toBeLessThan(2_000);
    return runId;
  } finally {
    await gate.query('COMMIT');
  }
}

describe('KILL of a run reading its inputs directly', () => {
  it('ends the run within 2 s while its segments wait in their reads', async () => {
    await killWhileGated(
      'EXECUTE PROCEDURE copy_rows(rows => TABLE (SELECT id, wait_for_gate() AS g FROM source)) INTO gated WITH (segments = 2)',
    );
  });
  it('ends the run within 2 s while its output waits in a trigger of the INTO table', async () => {
    await fixture.client.query('CREATE TABLE gated_out (id int)');
    await fixture.client.query(
      `CREATE FUNCTION gated_insert() RETURNS trigger LANGUAGE plpgsql
         AS $fn$ BEGIN PERFORM wait_for_gate(); RETURN NEW; END $fn$`,
    );
    await fixture.client.query(
      'CREATE TRIGGER gated BEFORE INSERT ON gated_out FOR EACH ROW EXECUTE FUNCTION gated_insert()',
    );
    const runId = await killWhileGated(
      'EXECUTE PROCEDURE copy_rows(rows => TABLE (SELECT id FROM source)) INTO gated_out WITH (segments = 2)',
    );
    // The load was cancelled: none of its rows went in, and the segments say they were killed.
    expect(await query('SELECT count(*)::int AS n FROM gated_out')).toEqual([{ n: 0 }]);
    const segments = await query<{ state: string }>('SELECT state FROM procgate.run_segments WHERE run_id = $1', [runId]);
    expect(segments.map((segment) => segment.state)).toEqual(['killed', 'killed']);
  });
});
