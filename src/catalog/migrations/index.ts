import { sql as catalog } from './0001-catalog.js';
import { sql as engine } from './0002-engine.js';
import { sql as runStateNotify } from './0003-run-state-notify.js';
import { sql as callCancel } from './0004-call-cancel.js';
import { sql as typeDeclaredParameters } from './0005-type-declared-parameters.js';
import { sql as runErrorCodes } from './0006-run-error-codes.js';
import { sql as dropModel } from './0007-drop-model.js';
import { sql as typeDeclaredAtCreate } from './0008-type-declared-at-create.js';

/** A schema version: its SQL runs once, in one transaction. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** Every migration, oldest first. Versions only grow; a released migration never changes. */
export const migrations: readonly Migration[] = [
  { version: 1, name: 'catalog', sql: catalog },
  { version: 2, name: 'engine', sql: engine },
  { version: 3, name: 'run-state-notify', sql: runStateNotify },
  { version: 4, name: 'call-cancel', sql: callCancel },
  { version: 5, name: 'type-declared-parameters', sql: typeDeclaredParameters },
  { version: 6, name: 'run-error-codes', sql: runErrorCodes },
  { version: 7, name: 'drop-model', sql: dropModel },
  { version: 8, name: 'type-declared-at-create', sql: typeDeclaredAtCreate },
];
