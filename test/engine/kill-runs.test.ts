import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useEngine } from '../support/engine-fixture.js';
import { liveGroupMembers } from '../support/processes.js';
import { eventually, useProxiedDatabase } from '../support/test-database.js';

const t = useProxiedDatabase('engine_kill', { statements: true });

interface RunRow {
  state: string;
  started_at: Date | null;
}

const fixture = useEngine<RunRow>(t);
const { execute, finished } = fixture;

/** sh and two sleeps in the segment's process group: a kill has to reach the backgrounded one too. */
const SLEEPER = `LANGUAGE command COMMAND 'sh' ARGS ('-c', 'sleep 30 & sleep 30; wait') EXECUTION MODE NONDISTRIBUTED`;

beforeAll(async () => {
  await fixture.client.query(`CREATE PROCEDURE sleeper ${SLEEPER}`);
  await fixture.client.query(`CREATE PROCEDURE dozer ${SLEEPER}`);
});

// A failed test leaves nothing running for the next one.
afterEach(async () => {
  await fixture.client.query('KILL RUNS');
  await eventually(
    () => fixture.client.query(`SELECT 1 FROM procgate.runs WHERE state IN ('queued', 'running', 'cancelling')`),
    (r) => r.rowCount === 0,
  );
});

/** The rows of a KILL in run order: PostgreSQL returns them in no particular order. */
function byRun<Row extends { run_id: string }>(rows: readonly Row[], order: readonly string[]): Row[] {
  return [...rows].sort((a, b) => order.indexOf(a.run_id) - order.indexOf(b.run_id));
}

/** Waits until each run's program has started both sleeps; gives each run's process group. */
async function started(runIds: readonly string[]): Promise<number[]> {
  const groups: number[] = [];
  for (const runId of runIds) {
    const { rows } = await eventually(
      () => fixture.client.query<{ pid: number | null }>('SELECT pid FROM procgate.run_segments WHERE run_id = $1', [runId]),
      (r) => r.rows[0]?.pid != null,
    );
    const pid = rows[0]?.pid;
    if (pid == null) throw new Error(`run ${runId} never started`);
    expect(await eventually(async () => liveGroupMembers(pid), (members) => members.length === 3)).toHaveLength(3);
    groups.push(pid);
  }
  return groups;
}

/** Each run reads killed within 2 s of the kill, and nothing of its process group is left. */
async function expectKilled(runIds: readonly string[], groups: readonly number[], killedAt: number): Promise<void> {
  for (const runId of runIds) {
    const row = await finished(runId, Math.max(0, killedAt + 2_000 - Date.now()));
    expect(row.state, `run ${runId}`).toBe('killed');
  }
  expect(Date.now() - killedAt).toBeLessThan(2_000);
  for (const group of groups) {
    expect(await eventually(async () => liveGroupMembers(group), (members) => members.length === 0, 1_000)).toEqual([]);
  }
}

/** Runs a KILL (or DROP) statement; gives its rows and when it was sent. */
async function kill<Row extends object = { run_id: string; state: string }>(
  statement: string,
): Promise<{ killedAt: number; rows: Row[] }> {
  const killedAt = Date.now();
  const { rows } = await fixture.client.query<Row>(statement);
  return { killedAt, rows };
}

describe('KILL RUNS', () => {
  it('OF PROCEDURE kills the running runs of that procedure, and only those', async () => {
    const mine = [await execute('EXECUTE PROCEDURE sleeper()'), await execute('EXECUTE PROCEDURE sleeper()')];
    const other = await execute('EXECUTE PROCEDURE dozer()');
    const [otherGroup, ...groups] = await started([other, ...mine]);
    const { killedAt, rows } = await kill('KILL RUNS OF PROCEDURE sleeper');
    expect(byRun(rows, mine)).toEqual(mine.map((runId) => ({ run_id: runId, state: 'cancelling' })));
    await expectKilled(mine, groups, killedAt);
    expect((await fixture.run(other)).state).toBe('running');
    expect(liveGroupMembers(otherGroup!)).toHaveLength(3);
    // Finished runs are not listed again.
    expect((await kill('KILL RUNS OF PROCEDURE sleeper')).rows).toEqual([]);
    const rest = await kill('KILL RUNS OF PROCEDURE dozer');
    expect(rest.rows).toEqual([{ run_id: other, state: 'cancelling' }]);
    await expectKilled([other], [otherGroup!], rest.killedAt);
  });

  it('WITH (run_tag) kills the runs with that tag, of any procedure', async () => {
    const tagged = [
      await execute(`EXECUTE PROCEDURE sleeper() WITH (run_tag = 'purge')`),
      await execute(`EXECUTE PROCEDURE dozer() WITH (run_tag = 'purge')`),
    ];
    const kept = await execute(`EXECUTE PROCEDURE sleeper() WITH (run_tag = 'keep')`);
    const [keptGroup, ...groups] = await started([kept, ...tagged]);
    const { killedAt, rows } = await kill(`KILL RUNS WITH (run_tag = 'purge')`);
    expect(byRun(rows, tagged)).toEqual(tagged.map((runId) => ({ run_id: runId, state: 'cancelling' })));
    await expectKilled(tagged, groups, killedAt);
    expect((await fixture.run(kept)).state).toBe('running');
    expect(liveGroupMembers(keptGroup!)).toHaveLength(3);
    expect((await kill(`KILL RUNS OF PROCEDURE dozer WITH (run_tag = 'keep')`)).rows).toEqual([]);
    const rest = await kill(`KILL RUNS OF PROCEDURE sleeper WITH (run_tag = 'keep')`);
    expect(rest.rows).toEqual([{ run_id: kept, state: 'cancelling' }]);
    await expectKilled([kept], [keptGroup!], rest.killedAt);
  });

  it('alone kills every active run: running ones stop, a queued one never starts, finished ones are not listed', async () => {
    await fixture.client.query(`CREATE PROCEDURE quick LANGUAGE command COMMAND 'true' EXECUTION MODE NONDISTRIBUTED`);
    const done = await execute('EXECUTE PROCEDURE quick()');
    expect((await finished(done)).state).toBe('succeeded');
    // Four runs fill the engine's four slots; a fifth waits: in the queue, or claimed into the engine's local queue.
    const running = [];
    for (let i = 0; i < 4; i += 1) running.push(await execute(`EXECUTE PROCEDURE ${i % 2 === 0 ? 'sleeper' : 'dozer'}()`));
    const groups = await started(running);
    const queued = await execute('EXECUTE PROCEDURE sleeper()');
    expect(['queued', 'running']).toContain((await fixture.run(queued)).state);
    const { killedAt, rows } = await kill('KILL RUNS');
    const [waiting] = byRun(rows, [queued]).filter((row) => row.run_id === queued);
    expect(byRun(rows, [...running, queued])).toEqual([
      ...running.map((runId) => ({ run_id: runId, state: 'cancelling' })),
      // Killed at once when still queued; when claimed ahead, its engine ends it killed without starting it.
      { run_id: queued, state: waiting?.state === 'killed' ? 'killed' : 'cancelling' },
    ]);
    await expectKilled([...running, queued], groups, killedAt);
    const [segment] = await fixture.query<{ pid: number | null }>('SELECT pid FROM procgate.run_segments WHERE run_id = $1', [
      queued,
    ]);
    expect(segment).toEqual({ pid: null });
    expect((await fixture.run(done)).state).toBe('succeeded');
    expect((await kill('KILL RUNS')).rows).toEqual([]);
  });
});

describe('DROP PROCEDURE', () => {
  it('kills its running runs within 2 s, with their process groups, and keeps their history', async () => {
    await fixture.client.query(`CREATE PROCEDURE doomed ${SLEEPER}`);
    const runs = [await execute('EXECUTE PROCEDURE doomed()'), await execute('EXECUTE PROCEDURE doomed()')];
    const groups = await started(runs);
    const { killedAt, rows } = await kill<{ procedure: string; runs_killed: number }>('DROP PROCEDURE doomed');
    expect(rows).toEqual([{ procedure: 'doomed', runs_killed: 2 }]);
    await expectKilled(runs, groups, killedAt);
    expect((await fixture.client.query(`SELECT 1 FROM procgate.procedures WHERE name = 'doomed'`)).rowCount).toBe(0);
    const history = await fixture.client.query(
      `SELECT r.procedure, s.state, s.message FROM procgate.runs r JOIN procgate.run_segments s USING (run_id)
        WHERE r.run_id = ANY ($1::uuid[])`,
      [runs],
    );
    expect(history.rows).toEqual([
      { procedure: 'doomed', state: 'killed', message: 'killed' },
      { procedure: 'doomed', state: 'killed', message: 'killed' },
    ]);
  });
});
