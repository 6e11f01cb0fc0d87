import type { Queryable } from './queryable.js';

/** PostgreSQL's version as a number, e.g. 170004 for 17.4. */
export async function serverVersion(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ v: number }>("SELECT current_setting('server_version_num')::int AS v");
  return rows[0]?.v ?? 0;
}
