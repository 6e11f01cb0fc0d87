import type pg from 'pg';
import { sleep } from './processes.js';
import { nowMs, progress } from './settings.js';

/** The states a run ends in. */
const TERMINAL = ['succeeded', 'failed', 'killed'];

/** An EXECUTE sent through procgate, timed on this host's clock (PostgreSQL's too). */
export interface Submitted {
  readonly runId: string;
  readonly sentMs: number;
  readonly replyMs: number;
}

/** Sends one EXECUTE and keeps the run_id it answers with. */
export async function submit(client: pg.Client, statement: string): Promise<Submitted> {
  const sentMs = nowMs();
  const { rows } = await client.query<{ run_id: string }>(statement);
  const replyMs = nowMs();
  const runId = rows[0]?.run_id;
  if (runId === undefined) throw new Error(`no run_id from ${statement}`);
  return { runId, sentMs, replyMs };
}

/** Waits until every run tagged `tag` has ended; polls PostgreSQL directly (`direct`), every `pollMs`. */
export async function waitForTag(
  direct: pg.Client,
  tag: string,
  expected: number,
  timeoutMs: number,
  pollMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastReport = Date.now();
  for (;;) {
    const { rows } = await direct.query<{ done: number }>(
      `SELECT count(*) FILTER (WHERE state = ANY ($2))::int AS done FROM procgate.runs WHERE run_tag = $1`,
      [tag, TERMINAL],
    );
    const done = rows[0]?.done ?? 0;
    if (done >= expected) return;
    if (Date.now() > deadline) throw new Error(`runs tagged ${tag}: ${done} of ${expected} ended after ${timeoutMs} ms`);
    if (Date.now() - lastReport > 5000) {
      progress(`  ${tag}: ${done}/${expected} ended`);
      lastReport = Date.now();
    }
    await sleep(pollMs);
  }
}

/** A run's outcome and its server-side timestamps, ms since the epoch. */
export interface RunTimes {
  readonly run_id: string;
  readonly state: string;
  readonly error: string | null;
  readonly created_ms: number;
  readonly started_ms: number | null;
  readonly finished_ms: number | null;
}

/** Every run tagged `tag`, by run_id. */
export async function runTimes(direct: pg.Client, tag: string): Promise<Map<string, RunTimes>> {
  const { rows } = await direct.query<Record<keyof RunTimes, string | null>>(
    `SELECT run_id::text, state, error,
            (extract(epoch FROM created_at) * 1000)::float8 AS created_ms,
            (extract(epoch FROM started_at) * 1000)::float8 AS started_ms,
            (extract(epoch FROM finished_at) * 1000)::float8 AS finished_ms
       FROM procgate.runs WHERE run_tag = $1`,
    [tag],
  );
  return new Map(
    rows.map((row) => [
      row.run_id!,
      {
        run_id: row.run_id!,
        state: row.state!,
        error: row.error,
        created_ms: Number(row.created_ms),
        started_ms: row.started_ms === null ? null : Number(row.started_ms),
        finished_ms: row.finished_ms === null ? null : Number(row.finished_ms),
      },
    ]),
  );
}

/** A run that succeeded: when its EXECUTE was sent, when it finished, and its results. */
export interface FinishedRun {
  readonly runId: string;
  readonly sentMs: number;
  readonly finishedMs: number;
  readonly results: Record<string, unknown>;
}

/** Polls one run (directly, every 50 ms) until it ends; fails unless it succeeded. */
export async function waitForRun(direct: pg.Client, submitted: Submitted, label: string): Promise<FinishedRun> {
  const { runId, sentMs } = submitted;
  let lastReport = Date.now();
  for (;;) {
    const { rows: runs } = await direct.query<{
      state: string;
      error: string | null;
      progress: number | null;
      finished_ms: number | null;
      results: Record<string, unknown> | null;
    }>(
      `SELECT state, error, progress::float8 AS progress, (extract(epoch FROM finished_at) * 1000)::float8 AS finished_ms,
              results FROM procgate.runs WHERE run_id = $1`,
      [runId],
    );
    const run = runs[0];
    if (run === undefined) throw new Error(`run ${runId} not found`);
    if (run.state === 'succeeded' && run.finished_ms !== null) {
      return { runId, sentMs, finishedMs: Number(run.finished_ms), results: run.results ?? {} };
    }
    if (run.state === 'failed' || run.state === 'killed') {
      throw new Error(`${label}: run ${runId} ${run.state}: ${run.error ?? ''}`);
    }
    if (Date.now() - lastReport > 10_000) {
      const done = run.progress === null ? '' : `, progress ${(Number(run.progress) * 100).toFixed(0)}%`;
      progress(`  ${label}: ${run.state}${done}, ${((nowMs() - sentMs) / 1000).toFixed(0)} s`);
      lastReport = Date.now();
    }
    await sleep(50);
  }
}
