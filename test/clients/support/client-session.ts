import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import type { ClientServer } from './procgate-server.js';

/** The procgate serve of this run (see procgate-server.ts). */
export function procgate(): ClientServer {
  return inject('procgate');
}

/** The same database, straight to the embedded PostgreSQL: what a client sees without procgate. */
export function directUrl(): string {
  const server = procgate();
  const url = new URL(server.url);
  url.port = String(server.directPort);
  return url.href;
}

/** A pg client on procgate, connected for the file's tests and ended after them. */
export function usePgClient(): pg.Client {
  const client = new pg.Client(procgate().url);
  beforeAll(() => client.connect());
  afterAll(() => client.end());
  return client;
}

const ENDED = new Set(['succeeded', 'failed', 'killed']);

/** Polls procgate.runs until the run has ended (or `timeoutMs` passes) and returns its row. */
export async function waitForRun(
  client: pg.Client,
  runId: string,
  timeoutMs = 30_000,
): Promise<{ state: string; error: string | null; rows_out: string; results: unknown }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await client.query(
      'SELECT state, error, rows_out, results FROM procgate.runs WHERE run_id = $1',
      [runId],
    );
    const run = rows[0] as { state: string; error: string | null; rows_out: string; results: unknown } | undefined;
    if (run !== undefined && (ENDED.has(run.state) || Date.now() > deadline)) return run;
    if (Date.now() > deadline) throw new Error(`run ${runId} not found`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * CREATE PROCEDURE <name>: a javascript procedure that writes the rows of its
 * input `scores` (name text, score int) scoring at least `min_score`, and
 * gives the count as its result `kept`. The client tests' common procedure.
 */
export function createFilterProcedure(name: string): string {
  return `
CREATE PROCEDURE ${name}(scores TABLE, min_score int DEFAULT 0)
  LANGUAGE javascript
  RETURNS TABLE (name text, score int)
  FILES ('main.js' = $js$
export default async (ctx) => {
  let kept = 0;
  for await (const row of ctx.inputs.scores) {
    if (row.score >= ctx.params.min_score) {
      await ctx.outputs[0].write(row);
      kept += 1;
    }
  }
  ctx.result('kept', kept);
};
$js$)`;
}
