import { chmodSync, existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultRunDirectory } from '../../src/engine/engine-directory.js';
import { useEngine } from '../support/engine-fixture.js';
import { liveGroupMembers } from '../support/processes.js';
import { eventually, useProxiedDatabase } from '../support/test-database.js';

const t = useProxiedDatabase('engine_command', { statements: true });

interface RunRow {
  state: string;
  error: string | null;
  started_at: Date | null;
  finished_at: Date | null;
  progress: string;
  segments_total: number | null;
  segments_succeeded: number;
  segments_failed: number;
  worker: string | null;
}

const fixture = useEngine<RunRow>(t);
const { execute, run, finished } = fixture;

async function output(runId: string): Promise<{ stream: string; line_no: string; line: string }[]> {
  const { rows } = await fixture.client.query<{ stream: string; line_no: string; line: string }>(
    'SELECT stream, line_no::text, line FROM procgate.run_output WHERE run_id = $1 ORDER BY stream, line_no',
    [runId],
  );
  return rows;
}

describe('command procedures', () => {
  it('runs a python3 program: queued, running, succeeded, with its output and control file', async () => {
    await fixture.client.query(`
      CREATE PROCEDURE hello(greeting text, times int DEFAULT 2)
        LANGUAGE command COMMAND 'python3' ARGS ('hello.py', 'from-args')
        EXECUTION MODE NONDISTRIBUTED
        FILES ('hello.py' = $py$
import json, os, sys, time
control = json.load(open(os.environ["PROCGATE_CONTROL_FILE"]))
params = control["params"]
for i in range(params["times"]["value"]):
    print(params["greeting"]["value"], i, sys.argv[1])
print("segment", os.environ["PROCGATE_SEGMENT"], "of", os.environ["PROCGATE_SEGMENT_COUNT"],
      os.environ["PROCGATE_RUN_ID"] == control["run_id"], "PROCGATE_PASSWORD" in os.environ)
print("warning", file=sys.stderr)
time.sleep(0.3)
$py$)`);
    const runId = await execute(`EXECUTE PROCEDURE hello(greeting => 'hi', times => 3)`);
    const running = await eventually(() => run(runId), (r) => r.state !== 'queued');
    expect(running.state).toBe('running');
    expect(running.worker).toBe(fixture.engine.workerId);
    const done = await finished(runId);
    expect(done).toMatchObject({
      state: 'succeeded',
      error: null,
      progress: '1',
      segments_total: 1,
      segments_succeeded: 1,
      segments_failed: 0,
      started_at: expect.any(Date),
      finished_at: expect.any(Date),
    });
    expect(await output(runId)).toEqual([
      { stream: 'stderr', line_no: '1', line: 'warning' },
      { stream: 'stdout', line_no: '1', line: 'hi 0 from-args' },
      { stream: 'stdout', line_no: '2', line: 'hi 1 from-args' },
      { stream: 'stdout', line_no: '3', line: 'hi 2 from-args' },
      { stream: 'stdout', line_no: '4', line: 'segment 0 of 1 True False' },
    ]);
    const { rows: segments } = await fixture.client.query(
      'SELECT segment, state, exit_code, attempt, worker FROM procgate.run_segments WHERE run_id = $1',
      [runId],
    );
    expect(segments).toEqual([{ segment: 0, state: 'succeeded', exit_code: 0, attempt: 1, worker: fixture.engine.workerId }]);
  });

  it('keeps the last max_output_lines lines of each stream', async () => {
    await fixture.client.query(`
      CREATE PROCEDURE chatty LANGUAGE command COMMAND 'sh' ARGS ('-c', 'seq 1 50; seq 1 5 >&2')
        EXECUTION MODE NONDISTRIBUTED`);
    const runId = await execute(`EXECUTE PROCEDURE chatty() WITH (max_output_lines = 3)`);
    expect((await finished(runId)).state).toBe('succeeded');
    expect((await output(runId)).map((o) => `${o.stream}:${o.line_no}:${o.line}`)).toEqual([
      'stderr:3:3',
      'stderr:4:4',
      'stderr:5:5',
      'stdout:48:48',
      'stdout:49:49',
      'stdout:50:50',
    ]);
  });

  it('runs a distributed run as its segments', async () => {
    await fixture.client.query(`
      CREATE PROCEDURE parts LANGUAGE command COMMAND 'sh' ARGS ('-c', 'echo "part $PROCGATE_SEGMENT/$PROCGATE_SEGMENT_COUNT"')`);
    const runId = await execute(`EXECUTE PROCEDURE parts() WITH (segments = 3)`);
    expect(await finished(runId)).toMatchObject({ state: 'succeeded', segments_total: 3, segments_succeeded: 3 });
    expect((await output(runId)).map((o) => o.line).sort()).toEqual(['part 0/3', 'part 1/3', 'part 2/3']);
  });

  it('fails a run whose program exits non-zero, with the tail of stderr as its error', async () => {
    await fixture.client.query(`
      CREATE PROCEDURE broken LANGUAGE command COMMAND 'sh' ARGS ('-c', 'echo starting; echo "bad input" >&2; echo "giving up" >&2; exit 3')
        EXECUTION MODE NONDISTRIBUTED`);
    const runId = await execute(`EXECUTE PROCEDURE broken()`);
    expect(await finished(runId)).toMatchObject({
      state: 'failed',
      error: 'bad input\ngiving up',
      segments_failed: 1,
      // It reported no progress: a run that did not finish keeps what it reached.
      progress: '0',
    });
    const { rows } = await fixture.client.query('SELECT state, exit_code, message FROM procgate.run_segments WHERE run_id = $1', [
      runId,
    ]);
    expect(rows).toEqual([{ state: 'failed', exit_code: 3, message: 'bad input\ngiving up' }]);
  });

  it('fails a run whose command does not exist', async () => {
    await fixture.client.query(`CREATE PROCEDURE missing LANGUAGE command COMMAND 'no-such-program-procgate'`);
    const runId = await execute(`EXECUTE PROCEDURE missing()`);
    const done = await finished(runId);
    expect(done.state).toBe('failed');
    expect(done.error).toMatch(/^could not start "no-such-program-procgate": .*ENOENT/);
  });

  it('kills a running run within 2 s, with its whole process group', async () => {
    await fixture.client.query(`
      CREATE PROCEDURE sleepy LANGUAGE command COMMAND 'sh' ARGS ('-c', 'sleep 30 & sleep 30; wait')
        EXECUTION MODE NONDISTRIBUTED`);
    const runId = await execute(`EXECUTE PROCEDURE sleepy()`);
    const { rows } = await eventually(
      () => fixture.client.query<{ pid: number | null }>('SELECT pid FROM procgate.run_segments WHERE run_id = $1', [runId]),
      (r) => r.rows[0]?.pid != null,
    );
    const pid = rows[0]?.pid;
    if (pid == null) throw new Error('the segment never started');
    // sh and its two sleeps, once sh has started them.
    expect(await eventually(async () => liveGroupMembers(pid), (m) => m.length === 3)).toHaveLength(3);
    const killedAt = Date.now();
    expect((await fixture.client.query(`KILL RUN '${runId}'`)).rows).toEqual([{ run_id: runId, state: 'cancelling' }]);
    const done = await finished(runId, 2_000);
    expect(done.state).toBe('killed');
    expect(Date.now() - killedAt).toBeLessThan(2_000);
    // No member of the group is left: the backgrounded sleep went too.
    expect(await eventually(async () => liveGroupMembers(pid), (m) => m.length === 0, 1_000)).toEqual([]);
    const segment = await fixture.client.query('SELECT state, message FROM procgate.run_segments WHERE run_id = $1', [runId]);
    expect(segment.rows).toEqual([{ state: 'killed', message: 'killed' }]);
  });

  it('kills a distributed run with more segments than slots: running ones stop, queued ones never start', async () => {
    await fixture.client.query(`CREATE PROCEDURE naps LANGUAGE command COMMAND 'sleep' ARGS ('30')`);
    const runId = await execute(`EXECUTE PROCEDURE naps() WITH (segments = 6)`);
    await eventually(
      () => fixture.client.query('SELECT 1 FROM procgate.run_segments WHERE run_id = $1 AND pid IS NOT NULL', [runId]),
      (r) => r.rowCount === 4,
    );
    const killedAt = Date.now();
    await fixture.client.query(`KILL RUN '${runId}'`);
    // None of the naps got anywhere: killed, the run keeps the progress it reached.
    expect(await finished(runId, 2_000)).toMatchObject({ state: 'killed', segments_total: 6, progress: '0' });
    expect(Date.now() - killedAt).toBeLessThan(2_000);
    const { rows } = await fixture.client.query<{ state: string; started: boolean }>(
      `SELECT state, started_at IS NOT NULL AS started, count(*)::int AS n FROM procgate.run_segments
        WHERE run_id = $1 GROUP BY 1, 2 ORDER BY 2`,
      [runId],
    );
    expect(rows).toEqual([
      { state: 'killed', started: false, n: 2 },
      { state: 'killed', started: true, n: 4 },
    ]);
  });

  it("runs each segment in a fresh working directory in its engine's folder of the run directory, removed afterwards", async () => {
    await fixture.client.query(`
      CREATE PROCEDURE where_am_i LANGUAGE command COMMAND './where.sh' EXECUTION MODE NONDISTRIBUTED
        FILES ('where.sh' = E'#!/bin/sh\\npwd\\necho "$PROCGATE_CONTROL_FILE"\\nls\\n')`);
    const runId = await execute(`EXECUTE PROCEDURE where_am_i()`);
    expect((await finished(runId)).state).toBe('succeeded');
    const [cwd, control, listing] = (await output(runId)).map((o) => o.line);
    expect(cwd).toMatch(new RegExp(`^${realpathSync(defaultRunDirectory())}/engine\\.[^/]+/segments/segment-[^/]+/work$`));
    expect(listing).toBe('where.sh');
    // The directory goes just after the segment's end is recorded, so the run may read succeeded first.
    const gone = async (): Promise<boolean> => !existsSync(cwd ?? '') && !existsSync(control ?? '');
    expect(await eventually(gone, (isGone) => isGone, 2_000)).toBe(true);
  });

  it('kills a run that outlives its timeout', async () => {
    const runId = await execute(`EXECUTE PROCEDURE sleepy() WITH (timeout = 0.5)`);
    const started = Date.now();
    const done = await finished(runId, 5_000);
    expect(done).toMatchObject({ state: 'failed', error: 'timed out after 0.5 s' });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('never runs an EXECUTE that was rolled back', async () => {
    // A directory of the test's own that the program's unprivileged uid may write in (what a
    // program leaves at the top of /tmp is removed when its segment ends).
    const markers = mkdtempSync(path.join(tmpdir(), 'procgate-rolled-back-'));
    chmodSync(markers, 0o1777);
    const marker = path.join(markers, 'touched');
    await fixture.client.query(`
      CREATE PROCEDURE touch(file text) LANGUAGE command COMMAND 'python3' ARGS ('touch.py')
        EXECUTION MODE NONDISTRIBUTED
        FILES ('touch.py' = $py$
import json, os
control = json.load(open(os.environ["PROCGATE_CONTROL_FILE"]))
open(control["params"]["file"]["value"], "w").close()
$py$)`);
    await fixture.client.query('BEGIN');
    const rolledBack = await execute(`EXECUTE PROCEDURE touch(file => '${marker}-1')`);
    await fixture.client.query('ROLLBACK');
    // A committed run after it: once it has run, the engine has seen everything there was.
    const committed = await execute(`EXECUTE PROCEDURE touch(file => '${marker}-2')`);
    expect((await finished(committed)).state).toBe('succeeded');
    expect(existsSync(`${marker}-2`)).toBe(true);
    expect(existsSync(`${marker}-1`)).toBe(false);
    rmSync(markers, { recursive: true });
    expect((await fixture.client.query('SELECT 1 FROM procgate.runs WHERE run_id = $1', [rolledBack])).rowCount).toBe(0);
  });
});

describe('max_concurrency_per_node', () => {
  it('runs at most that many segments of the procedure at once on one engine', async () => {
    await fixture.client.query(`
      CREATE PROCEDURE one_at_a_time LANGUAGE command COMMAND 'sh' ARGS ('-c', 'sleep 0.3')
        WITH (max_concurrency_per_node = 1)`);
    const runId = await execute('EXECUTE PROCEDURE one_at_a_time() WITH (segments = 3)');
    expect((await finished(runId)).state).toBe('succeeded');
    const { rows } = await fixture.client.query<{ started_at: Date; finished_at: Date }>(
      'SELECT started_at, finished_at FROM procgate.run_segments WHERE run_id = $1 ORDER BY started_at',
      [runId],
    );
    expect(rows).toHaveLength(3);
    // Four slots, but one segment at a time: each starts after the one before has finished.
    for (let i = 1; i < rows.length; i += 1) {
      expect(rows[i]!.started_at.getTime()).toBeGreaterThanOrEqual(rows[i - 1]!.finished_at.getTime());
    }
  });
});
