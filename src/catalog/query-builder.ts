import {
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
} from 'kysely';
import type { Database } from './catalog-types.js';

/**
 * Kysely over the procgate schema, for building typed queries only. The
 * server runs them on connections it manages itself (one that also LISTENs,
 * the session's own), so no pool or driver of Kysely's is involved.
 *
 * @example
 * const { sql, parameters } = catalogQueries.selectFrom('procgate_internal.procedures').select('name').compile();
 */
export const catalogQueries = new Kysely<Database>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});
