import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { ProcgateDatabase } from 'procgate';

const db = new Kysely<ProcgateDatabase>({
  dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: process.env.PROCGATE_URL }) }),
});
// Start a run with the sql tag; read the procgate views with typed queries.
await sql`EXECUTE PROCEDURE sensor_stats(readings => TABLE (readings) PARTITION BY sensor) INTO sensor_summary`.execute(db);
const recent = await db
  .selectFrom('procgate.runs')
  .select(['run_id', 'state', 'progress', 'created_at'])
  .where('procedure', '=', 'sensor_stats')
  .orderBy('created_at', 'desc')
  .limit(3)
  .execute();
for (const run of recent) console.log(run.run_id, run.state, run.created_at.toISOString());
await db.destroy();
