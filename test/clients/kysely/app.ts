/**
 * A small app on procgate with kysely: it starts runs through kysely's `sql`
 * tag and follows them type-safely through the package's ProcgateDatabase.
 * The client test compiles it with the type checker, then runs it.
 */
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { ProcgateDatabase } from 'procgate';

export function connect(connectionString: string): Kysely<ProcgateDatabase> {
  return new Kysely<ProcgateDatabase>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString, max: 2 }) }),
  });
}

/** Starts a run of `procedure` with `n`; EXECUTE PROCEDURE is a statement, so it goes through `sql`. */
export async function startRun(db: Kysely<ProcgateDatabase>, procedure: string, n: number): Promise<string> {
  const { rows } = await sql<{ run_id: string }>`EXECUTE PROCEDURE ${sql.id(procedure)}(n => ${n})`.execute(db);
  const started = rows[0];
  if (started === undefined) throw new Error('EXECUTE PROCEDURE returned no run');
  return started.run_id;
}

export interface FinishedRun {
  readonly runId: string;
  readonly state: 'queued' | 'running' | 'cancelling' | 'succeeded' | 'failed' | 'killed';
  readonly seconds: number;
  readonly segments: number;
  readonly lines: string[];
}

/** Polls procgate.runs until the run has ended, then reads its segments and output lines. */
export async function followRun(db: Kysely<ProcgateDatabase>, runId: string): Promise<FinishedRun> {
  for (;;) {
    const run = await db
      .selectFrom('procgate.runs')
      .select(['run_id', 'state', 'started_at', 'finished_at'])
      .where('run_id', '=', runId)
      .executeTakeFirstOrThrow();
    if (run.state === 'succeeded' || run.state === 'failed' || run.state === 'killed') {
      const segments = await db
        .selectFrom('procgate.run_segments')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('run_id', '=', runId)
        .executeTakeFirstOrThrow();
      const output = await db
        .selectFrom('procgate.run_output')
        .select(['line'])
        .where('run_id', '=', runId)
        .orderBy('segment')
        .orderBy('line_no')
        .execute();
      // started_at and finished_at are Dates: the type says so, and pg makes them so.
      const seconds = ((run.finished_at?.getTime() ?? 0) - (run.started_at?.getTime() ?? 0)) / 1000;
      const lines = output.map((row) => row.line);
      return { runId: run.run_id, state: run.state, seconds, segments: Number(segments.n), lines };
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** What the type checker refuses: each line below must stay an error. */
export function typeErrors(db: Kysely<ProcgateDatabase>): void {
  // @ts-expect-error: procgate.runs has no column "status".
  void db.selectFrom('procgate.runs').select('status');
  // @ts-expect-error: internal tables are not part of ProcgateDatabase.
  void db.selectFrom('procgate_internal.runs').selectAll();
  void db
    .selectFrom('procgate.runs')
    .select(['progress', 'rows_out'])
    .executeTakeFirstOrThrow()
    .then((run) => {
      // @ts-expect-error: numeric and bigint arrive as strings from pg, not numbers.
      const progress: number = run.progress;
      return progress;
    });
}
