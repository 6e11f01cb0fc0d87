import { access } from './0001-catalog/access.js';
import { api } from './0001-catalog/api.js';
import { createProcedure } from './0001-catalog/create-procedure.js';
import { createProcedureApi } from './0001-catalog/create-procedure-api.js';
import { environments } from './0001-catalog/environments.js';
import { execute } from './0001-catalog/execute.js';
import { filePaths } from './0001-catalog/file-paths.js';
import { manageRuns } from './0001-catalog/manage-runs.js';
import { privileges } from './0001-catalog/privileges.js';
import { procedureTypes } from './0001-catalog/procedure-types.js';
import { rolesAndSchemas } from './0001-catalog/roles-and-schemas.js';
import { startupRuns } from './0001-catalog/startup-runs.js';
import { tables } from './0001-catalog/tables.js';
import { typedValues } from './0001-catalog/typed-values.js';
import { valueTypes } from './0001-catalog/value-types.js';
import { views } from './0001-catalog/views.js';

/**
 * The procgate schema: roles, storage, views and the SQL API. The modules
 * in ./0001-catalog are part of this migration: once released they never
 * change; later changes go into new migrations.
 */
export const sql = [
  rolesAndSchemas,
  tables,
  views,
  valueTypes,
  access,
  typedValues,
  filePaths,
  createProcedure,
  createProcedureApi,
  // Before execute: api_execute declares a variable of its row type.
  startupRuns,
  execute,
  manageRuns,
  environments,
  // The wrappers last: their SQL-standard bodies need everything they call to exist.
  api,
  privileges,
  procedureTypes,
].join('\n');
