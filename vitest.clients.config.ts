import { defineConfig } from 'vitest/config';

/**
 * `npm run test:clients`: real client programs (psql, pg, postgres.js,
 * kysely, psycopg, SQLAlchemy, pgjdbc, pgcli, ODBC) against one real
 * `procgate serve`. The files share its procgate database, so they run one
 * after another.
 */
export default defineConfig({
  test: {
    include: ['test/clients/**/*.test.ts'],
    globalSetup: ['test/clients/support/procgate-server.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
