import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useEngine } from '../support/engine-fixture.js';
import { eventually, useProxiedDatabase } from '../support/test-database.js';

const t = useProxiedDatabase('engine_local_queue', { statements: true });

interface RunRow {
  state: string;
  error: string | null;
}

/** One slot: a second run waits in the engine's local queue while the first runs. */
const fixture = useEngine<RunRow>(t, { slots: 1 });
const { execute, finished } = fixture;

beforeAll(async () => {
  await fixture.client.query(`CREATE PROCEDURE napper LANGUAGE command COMMAND 'sleep' ARGS ('30') EXECUTION MODE NONDISTRIBUTED`);
});

afterEach(async () => {
  await fixture.client.query('KILL RUNS');
});

interface SegmentRow {
  state: string;
  worker: string | null;
  attempt: number;
  pid: number | null;
  message: string | null;
}

const segmentOf = async (runId: string): Promise<SegmentRow> => {
  const rows = await fixture.query<SegmentRow>(
    'SELECT state, worker, attempt, pid, message FROM procgate.run_segments WHERE run_id = $1',
    [runId],
  );
  if (rows[0] === undefined) throw new Error(`no segment of run ${runId}`);
  return rows[0];
};

/** The first run running (its program started), the second claimed by the engine and queued there. */
async function oneRunningOneQueued(): Promise<[string, string]> {
  const first = await execute('EXECUTE PROCEDURE napper()');
  await eventually(() => segmentOf(first), (segment) => segment.pid !== null);
  const second = await execute('EXECUTE PROCEDURE napper()');
  const queued = await eventually(() => segmentOf(second), (segment) => segment.worker !== null);
  expect(queued).toMatchObject({ state: 'running', worker: fixture.engine.workerId, attempt: 1, pid: null });
  return [first, second];
}

describe("an engine's local queue", () => {
  it('ends a queued segment whose run is killed as killed, within 2 s, without running it', async () => {
    const [first, second] = await oneRunningOneQueued();
    const killedAt = Date.now();
    await fixture.client.query(`KILL RUN '${second}'`);
    expect((await finished(second, 2_000)).state).toBe('killed');
    expect(Date.now() - killedAt).toBeLessThan(2_000);
    expect(await segmentOf(second)).toMatchObject({ state: 'killed', pid: null, message: 'killed' });
    // The first one still runs.
    expect(await segmentOf(first)).toMatchObject({ state: 'running' });
    await fixture.client.query(`KILL RUN '${first}'`);
    expect((await finished(first, 2_000)).state).toBe('killed');
  });

  it('plans and runs a run queued without segments (by an older procgate), and fails one whose procedure is gone', async () => {
    await fixture.client.query(`CREATE PROCEDURE quick LANGUAGE command COMMAND 'true' EXECUTION MODE NONDISTRIBUTED`);
    const queue = async (procedureId: string | null, name: string): Promise<string> => {
      const [row] = await fixture.query<{ run_id: string }>(
        `INSERT INTO procgate_internal.runs (procedure_id, procedure, submitted_by)
         VALUES ($1, $2, current_user) RETURNING run_id`,
        [procedureId, name],
      );
      return row!.run_id;
    };
    const [quick] = await fixture.query<{ id: string }>(`SELECT id FROM procgate_internal.procedures WHERE name = 'quick'`);
    const old = await queue(quick!.id, 'quick');
    const orphan = await queue(null, 'vanished');
    expect((await finished(old, 10_000)).state).toBe('succeeded');
    expect(await finished(orphan, 10_000)).toMatchObject({
      state: 'failed',
      error: 'procedure "vanished" no longer exists',
    });
  });

  // Last: it stops the file's engine.
  it('is handed back when the engine stops: queued again at the attempt it had', async () => {
    const [first, second] = await oneRunningOneQueued();
    await fixture.engine.stop();
    expect((await fixture.run(first)).state).toBe('failed');
    expect(await segmentOf(second)).toMatchObject({ state: 'queued', worker: null, attempt: 0, pid: null });
    expect((await fixture.run(second)).state).toBe('running');
  });
});
