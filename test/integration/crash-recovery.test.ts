import { chmodSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCli, startCli } from '../support/cli.js';
import { groupsWorkingUnder, killGroups } from '../support/processes.js';
import { connectionUrl, eventually, useProxiedDatabase } from '../support/test-database.js';

/**
 * Engines that die: `procgate worker` and `procgate serve` processes are
 * SIGKILLed while distributed runs are in flight, and what survives (another
 * worker, or the server started again) must finish every run, retrying the
 * lost segments or failing them with "worker lost", without losing or
 * duplicating an output row.
 */

const t = useProxiedDatabase('crash_recovery', { statements: true });

/** Short leases, so a dead engine is noticed in about two seconds instead of ten. */
const LEASE_MS = 2_000;
const RUNS = 20;
const ROWS_PER_RUN = 400;
const SLOTS = 4;
/** For each test: they run for 5 to 15 s alone, more on a busy machine. */
const TEST_TIMEOUT_MS = 90_000;

/** An engine in a process of its own, with its own temporary directory so what it started can be found once it is dead. */
interface EngineProcess {
  readonly cli: RunningCli;
  /** The worker id (a worker) or the URL (a server) of its ready line. */
  readonly ready: string;
  readonly tmp: string;
}

/** Every engine process started, for the cleanup. */
const started: Array<Pick<EngineProcess, 'cli' | 'tmp'>> = [];
let client: pg.Client;
/** The worker that outlives the first test, for the second. */
let survivor: EngineProcess | undefined;

async function startEngine(args: readonly string[]): Promise<EngineProcess> {
  const tmp = realpathSync(mkdtempSync(path.join(tmpdir(), 'pgcrash-')));
  // Its run directory is in there, and its programs (sandbox uids) must pass through to it.
  chmodSync(tmp, 0o711);
  const cli = startCli([...args, '--slots', String(SLOTS), '--lease-ms', String(LEASE_MS), '--log-level', 'warn'], {
    TMPDIR: tmp,
  });
  started.push({ cli, tmp });
  return { cli, tmp, ready: await cli.ready };
}

function startWorker(): Promise<EngineProcess> {
  return startEngine(['worker', '--database', connectionUrl(t.db.direct)]);
}

/**
 * SIGKILLs an engine. Its programs run in process groups of their own and
 * would outlive it; they go too, as they would with the machine. (Left
 * alone they could not write a row either: only an engine holding the
 * lease commits a segment's output.)
 */
async function crash(engine: EngineProcess): Promise<void> {
  engine.cli.child.kill('SIGKILL');
  expect(await engine.cli.exited).toEqual({ code: null, signal: 'SIGKILL' });
  killGroups(groupsWorkingUnder(engine.tmp));
}

async function stop(engine: EngineProcess): Promise<void> {
  engine.cli.child.kill('SIGTERM');
  expect(await engine.cli.exited).toEqual({ code: 0, signal: null });
}

beforeAll(async () => {
  client = new pg.Client(t.proxy.config(t.db.name));
  await client.connect();
  await client.query(`
    CREATE TABLE crash_input AS
      SELECT g AS id, (g - 1) / ${String(ROWS_PER_RUN)} AS run_no, md5(g::text) AS payload
        FROM generate_series(1, ${String(RUNS * ROWS_PER_RUN)}) g`);
  // Copies its input and says which segment wrote each row; the pause keeps segments in flight.
  await client.query(
    `CREATE PROCEDURE slow_copy LANGUAGE command COMMAND 'python3' ARGS ('copy.py')
       RETURNS TABLE (id int, run_no int, payload text, segment int)
       FILES ('copy.py' = $py$
import csv, json, os, time
control = json.load(open(os.environ['PROCGATE_CONTROL_FILE']))
time.sleep(float(control['params'].get('pause', {'value': 0})['value']))
segment = os.environ['PROCGATE_SEGMENT']
with open(control['inputs'][0]['path'], newline='') as source, \\
     open(control['outputs'][0]['path'], 'w', newline='') as target:
    rows = csv.reader(source)
    out = csv.writer(target)
    out.writerow(next(rows) + ['segment'])
    for row in rows:
        out.writerow(row + [segment])
$py$)`,
  );
});

afterAll(async () => {
  for (const engine of started) {
    if (engine.cli.child.exitCode === null && engine.cli.child.signalCode === null) engine.cli.child.kill('SIGKILL');
    await engine.cli.exited;
    killGroups(groupsWorkingUnder(engine.tmp));
    rmSync(engine.tmp, { recursive: true, force: true });
  }
  await client.end();
});

/**
 * Run k copies the rows with run_no = k into `<prefix>_k`, in two segments
 * whose programs take `pause` seconds, with `retries(k)` retries.
 */
async function submit(
  prefix: string,
  retries: (k: number) => number,
  { runs = RUNS, via = client, pause = 0.3 }: { runs?: number; via?: pg.Client; pause?: number } = {},
): Promise<string[]> {
  const ids: string[] = [];
  for (let k = 0; k < runs; k += 1) {
    const { rows } = await via.query<{ run_id: string }>(
      `EXECUTE PROCEDURE slow_copy(rows => TABLE (SELECT id, run_no, payload FROM crash_input WHERE run_no = ${String(k)}),
                                   pause => ${String(pause)})
         INTO ${prefix}_${String(k)} WITH (segments = 2, retries = ${String(retries(k))})`,
    );
    ids.push(rows[0]!.run_id);
  }
  return ids;
}

/** Waits until the engines in `workers` each run at least `atLeast` segments with a live program. */
async function inFlight(workers: readonly string[], atLeast = 2): Promise<void> {
  const running = async (): Promise<number[]> => {
    const { rows } = await client.query<{ worker: string; n: number }>(
      `SELECT worker, count(*)::int AS n FROM procgate.run_segments
        WHERE state = 'running' AND pid IS NOT NULL GROUP BY worker`,
    );
    return workers.map((worker) => rows.find((row) => row.worker === worker)?.n ?? 0);
  };
  const counts = await eventually(running, (ns) => ns.every((n) => n >= atLeast), 15_000);
  expect(Math.min(...counts), `segments running on ${workers.join(', ')}: ${counts.join(', ')}`).toBeGreaterThanOrEqual(atLeast);
}

interface RunRow {
  run_id: string;
  state: string;
  error: string | null;
}

/** Waits until none of the runs is queued, running or cancelling; gives their rows in order. */
async function settled(runIds: readonly string[], timeoutMs = 60_000): Promise<RunRow[]> {
  const read = async (): Promise<RunRow[]> =>
    (
      await client.query<RunRow>(
        'SELECT run_id, state, error FROM procgate.runs WHERE run_id = ANY ($1::uuid[]) ORDER BY created_at',
        [runIds],
      )
    ).rows;
  const rows = await eventually(read, (runs) => runs.every((run) => ['succeeded', 'failed', 'killed'].includes(run.state)), timeoutMs);
  expect(rows.filter((run) => !['succeeded', 'failed', 'killed'].includes(run.state))).toEqual([]);
  return rows;
}

interface SegmentRow {
  run_id: string;
  segment: number;
  state: string;
  worker: string | null;
  attempt: number;
  message: string | null;
  rows_in: number | null;
  rows_out: number | null;
  started_at: Date | null;
}

async function segmentsOf(runIds: readonly string[]): Promise<SegmentRow[]> {
  const { rows } = await client.query<SegmentRow>(
    `SELECT run_id, segment, state, worker, attempt, message, rows_in::int, rows_out::int, started_at
       FROM procgate.run_segments WHERE run_id = ANY ($1::uuid[]) ORDER BY run_id, segment`,
    [runIds],
  );
  return rows;
}

/**
 * The segments a dead engine was running, read once nothing it sent can
 * still commit: running on its lease, or already failed by the sweeper.
 */
async function lostSegments(worker: string): Promise<string[]> {
  await new Promise((resolve) => setTimeout(resolve, 300));
  const { rows } = await client.query<{ key: string }>(
    `SELECT run_id || '/' || segment AS key FROM procgate.run_segments
      WHERE worker = $1 AND (state = 'running' OR (state = 'failed' AND message = 'worker lost')) ORDER BY 1`,
    [worker],
  );
  return rows.map((row) => row.key);
}

const keyOf = (segment: SegmentRow): string => `${segment.run_id}/${String(segment.segment)}`;

interface TableCheck {
  /** Rows in the INTO table. */
  rows: number;
  /** Rows of the table that are not rows of the run's input (as many times as they appear). */
  extra: number;
  /** Rows of the run's input missing from the table. */
  missing: number;
  /** The table's rows and the input's have the same checksum. */
  same_checksum: boolean;
}

/** The INTO table of run k compared with its input: counts, a checksum and EXCEPT ALL both ways. */
async function compareWithInput(prefix: string, k: number): Promise<TableCheck> {
  const out = `${prefix}_${String(k)}`;
  const input = `SELECT id, run_no, payload FROM crash_input WHERE run_no = ${String(k)}`;
  const { rows } = await client.query<TableCheck>(`
    SELECT (SELECT count(*) FROM ${out})::int AS rows,
           (SELECT count(*) FROM (SELECT id, run_no, payload FROM ${out} EXCEPT ALL ${input}) d)::int AS extra,
           (SELECT count(*) FROM (${input} EXCEPT ALL SELECT id, run_no, payload FROM ${out}) d)::int AS missing,
           (SELECT sum(hashtext(row(id, run_no, payload)::text)) FROM ${out})
             IS NOT DISTINCT FROM (SELECT sum(hashtext(row(id, run_no, payload)::text)) FROM (${input}) i) AS same_checksum`);
  return rows[0]!;
}

/** Rows of the INTO table of run k per segment that wrote them. */
async function rowsBySegment(prefix: string, k: number): Promise<Map<number, number>> {
  const { rows } = await client.query<{ segment: number; n: number }>(
    `SELECT segment, count(*)::int AS n FROM ${prefix}_${String(k)} GROUP BY segment`,
  );
  return new Map(rows.map((row) => [row.segment, row.n]));
}

describe('an engine killed while distributed runs are in flight', () => {
  it('with retries = 1: the surviving worker retries the lost segments and every run succeeds with exactly its rows', async () => {
    const [doomed, other] = await Promise.all([startWorker(), startWorker()]);
    survivor = other;
    const runIds = await submit('recovered', () => 1);
    await inFlight([doomed.ready, other.ready]);
    const killedAt = Date.now();
    await crash(doomed);
    const lost = await lostSegments(doomed.ready);
    expect(lost.length).toBeGreaterThan(0);

    const runs = await settled(runIds);
    expect(runs.map((run) => run.state)).toEqual(runIds.map(() => 'succeeded'));
    const segments = await segmentsOf(runIds);
    expect(segments.filter((segment) => segment.state !== 'succeeded')).toEqual([]);
    // Each lost segment was taken over by the survivor, in a second attempt; no other segment needed one.
    const retried = segments.filter((segment) => segment.attempt > 1);
    expect(retried.map(keyOf)).toEqual(expect.arrayContaining(lost));
    expect(retried.length).toBeLessThanOrEqual(SLOTS);
    for (const segment of retried) {
      expect(segment).toMatchObject({ worker: other.ready, attempt: 2 });
      // Not before the dead worker's lease (renewed every LEASE_MS / 5) ran out; soon after it.
      const takenOverAfter = segment.started_at!.getTime() - killedAt;
      expect(takenOverAfter).toBeGreaterThanOrEqual(LEASE_MS * 0.8 - 50);
      expect(takenOverAfter).toBeLessThan(LEASE_MS + 8_000);
    }
    for (let k = 0; k < RUNS; k += 1) {
      expect(await compareWithInput('recovered', k), `recovered_${String(k)}`).toEqual({
        rows: ROWS_PER_RUN,
        extra: 0,
        missing: 0,
        same_checksum: true,
      });
    }
  }, TEST_TIMEOUT_MS);

  it('with retries = 0: the lost segments fail with "worker lost", no run stays running, and only rows of succeeded segments are kept', async () => {
    if (survivor === undefined) throw new Error('no worker left from the test before');
    const doomed = await startWorker();
    const runIds = await submit('lost', () => 0);
    await inFlight([doomed.ready, survivor.ready]);
    await crash(doomed);
    const lost = await lostSegments(doomed.ready);
    expect(lost.length).toBeGreaterThan(0);

    const runs = await settled(runIds);
    const segments = await segmentsOf(runIds);
    const failed = segments.filter((segment) => segment.state !== 'succeeded');
    // Exactly the segments the dead worker was running failed, each with "worker lost"; nothing was retried.
    expect(failed.map(keyOf).sort()).toEqual(lost);
    for (const segment of failed) {
      expect(segment).toMatchObject({ state: 'failed', message: 'worker lost', worker: doomed.ready, attempt: 1 });
    }
    expect(segments.filter((segment) => segment.attempt !== 1)).toEqual([]);
    for (const [k, run] of runs.entries()) {
      const failedHere = failed.filter((segment) => segment.run_id === run.run_id);
      expect(run, `run ${String(k)}`).toMatchObject(
        failedHere.length > 0 ? { state: 'failed', error: 'worker lost' } : { state: 'succeeded', error: null },
      );
      // Exactly once: each succeeded segment's rows, once; none of a failed segment.
      const expected = new Map(
        segments
          .filter((segment) => segment.run_id === run.run_id && segment.state === 'succeeded' && segment.rows_out! > 0)
          .map((segment) => [segment.segment, segment.rows_out!]),
      );
      expect(await rowsBySegment('lost', k), `lost_${String(k)}`).toEqual(expected);
      const check = await compareWithInput('lost', k);
      expect(check.extra, `lost_${String(k)}`).toBe(0);
      if (failedHere.length === 0) {
        expect(check, `lost_${String(k)}`).toEqual({ rows: ROWS_PER_RUN, extra: 0, missing: 0, same_checksum: true });
      }
    }
    for (const segment of segments.filter((s) => s.state === 'succeeded')) expect(segment.rows_out).toBe(segment.rows_in);
  }, TEST_TIMEOUT_MS);

  it('a worker frozen past its lease and thawed has its late ends refused: no output row twice', async () => {
    if (survivor === undefined) throw new Error('no worker left from the test before');
    const frozen = await startWorker();
    // Programs of 2 s: when the worker freezes, none of its segments is being planned or completed.
    const runIds = await submit('thawed', () => 1, { runs: 4, pause: 2 });
    await inFlight([frozen.ready, survivor.ready]);
    frozen.cli.child.kill('SIGSTOP');
    let thawed = false;
    try {
      const held = await lostSegments(frozen.ready);
      expect(held.length).toBeGreaterThan(0);
      // The survivor takes the frozen worker's segments over once their leases run out, and finishes every run.
      const runs = await settled(runIds);
      expect(runs.map((run) => run.state)).toEqual(runIds.map(() => 'succeeded'));
      frozen.cli.child.kill('SIGCONT');
      thawed = true;
      // Thawed, it finds its programs ended and tries to record them: each is refused, its COPY rolled back.
      const refusals = (): number => frozen.cli.stderr().match(/segment finished after losing its lease/g)?.length ?? 0;
      expect(await eventually(async () => refusals(), (n) => n >= held.length, 10_000)).toBe(held.length);
      const segments = await segmentsOf(runIds);
      const retried = segments.filter((segment) => segment.attempt > 1);
      expect(retried.map(keyOf).sort()).toEqual(held);
      for (const segment of retried) expect(segment).toMatchObject({ state: 'succeeded', worker: survivor.ready });
      for (let k = 0; k < runIds.length; k += 1) {
        expect(await compareWithInput('thawed', k), `thawed_${String(k)}`).toEqual({
          rows: ROWS_PER_RUN,
          extra: 0,
          missing: 0,
          same_checksum: true,
        });
      }
    } finally {
      if (!thawed) frozen.cli.child.kill('SIGCONT');
    }
    await stop(frozen);
  }, TEST_TIMEOUT_MS);

  it('a server killed and started again leaves no run running: lost segments are retried or fail with "worker lost"', async () => {
    // The server alone runs these runs: no worker can take its segments over.
    if (survivor !== undefined) await stop(survivor);
    const serveArgs = ['serve', '--database', connectionUrl(t.db.direct), '--port', '0'];
    const first = await startEngine(serveArgs);
    // Through the server's own front end; retries = 0 and 1 alternate, so the first wave holds both.
    const front = new pg.Client({ ...t.db.direct, host: '127.0.0.1', port: Number(new URL(first.ready).port) });
    await front.connect();
    let runIds: string[];
    try {
      runIds = await submit('restarted', (k) => k % 2, { runs: 6, via: front });
    } finally {
      await front.end();
    }
    const serverWorker = await eventually(
      async () =>
        (
          await client.query<{ worker: string }>(
            `SELECT DISTINCT worker FROM procgate.run_segments WHERE run_id = ANY ($1::uuid[]) AND state = 'running'`,
            [runIds],
          )
        ).rows,
      (rows) => rows.length > 0,
      10_000,
    );
    const worker = serverWorker[0]!.worker;
    // Its slots full: the first two runs (one of each kind) are in flight.
    await inFlight([worker], SLOTS);
    await crash(first);
    const lost = await lostSegments(worker);
    expect(lost.length).toBeGreaterThan(0);

    const second = await startEngine(serveArgs);
    const runs = await settled(runIds);
    const segments = await segmentsOf(runIds);
    const lostRuns = new Set(lost.map((key) => key.slice(0, key.indexOf('/'))));
    for (const [k, run] of runs.entries()) {
      const retries = k % 2;
      if (retries === 1 || !lostRuns.has(run.run_id)) {
        expect(run, `run ${String(k)}`).toMatchObject({ state: 'succeeded', error: null });
        for (const segment of segments.filter((s) => s.run_id === run.run_id)) {
          expect(segment.attempt, keyOf(segment)).toBe(lost.includes(keyOf(segment)) ? 2 : 1);
        }
        expect(await compareWithInput('restarted', k)).toEqual({ rows: ROWS_PER_RUN, extra: 0, missing: 0, same_checksum: true });
      } else {
        expect(run, `run ${String(k)}`).toMatchObject({ state: 'failed', error: 'worker lost' });
        const failed = segments.filter((segment) => segment.run_id === run.run_id && segment.state !== 'succeeded');
        for (const segment of failed) expect(segment).toMatchObject({ state: 'failed', message: 'worker lost', attempt: 1 });
        expect(failed.map(keyOf).sort()).toEqual(lost.filter((key) => key.startsWith(run.run_id)));
      }
    }
    // Both kinds were caught by the crash.
    expect([...lostRuns].map((runId) => runIds.indexOf(runId) % 2)).toEqual(expect.arrayContaining([0, 1]));
    await stop(second);
  }, TEST_TIMEOUT_MS);
});
