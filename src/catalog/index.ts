export * from './catalog-types.js';
export { SchemaTooNewError } from './errors.js';
export { MIGRATION_LOCK_KEY, type MigrateResult, migrate } from './migrate.js';
export { type Migration, migrations } from './migrations/index.js';
export { catalogQueries } from './query-builder.js';
