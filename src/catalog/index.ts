export * from './catalog-types.js';
export { SchemaTooNewError } from './errors.js';
export { MIGRATION_LOCK_KEY, type MigrateResult, migrate } from './migrate.js';
export { type ParameterChecks, type ProcedureTypeDescription, syncProcedureTypes } from './procedure-types.js';
export { type Definitions, definitions, type Migration, migrations } from './schema/index.js';
export { catalogQueries } from './query-builder.js';
