import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * The procgate schema in two parts, both plain `.sql` files beside this one:
 *
 * - `migrations/`: the versioned steps. Tables, types, columns, indexes,
 *   data fixes, and DROP FUNCTION when a signature changes. Each runs once;
 *   a released step never changes.
 * - `definitions/`: the current definition of every function, view,
 *   trigger and grant, each in exactly one place, written to be applied
 *   again and again (CREATE OR REPLACE). migrate() applies them after the
 *   versioned steps whenever their text changes.
 */

/** A schema version: its SQL runs once. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** The current definitions: their files in the order they are applied, and all of their text. */
export interface Definitions {
  readonly files: readonly string[];
  readonly sql: string;
  /** A digest of `sql`: migrate() applies the definitions again when it changes. */
  readonly digest: string;
}

const MIGRATION_FILES = [
  '0001-catalog.sql',
  '0002-engine.sql',
  '0003-run-state-notify.sql',
  '0004-call-cancel.sql',
  '0005-type-declared-parameters.sql',
  '0006-run-error-codes.sql',
  '0007-drop-model.sql',
  '0008-type-declared-at-create.sql',
  '0009-compact-show.sql',
  '0010-run-progress-and-rows.sql',
  '0011-execute-checks.sql',
  '0012-engine-isolation.sql',
  '0013-segment-logins.sql',
  '0014-batched-dispatch.sql',
  '0015-segment-output-commit.sql',
] as const;

/**
 * In dependency order: a SQL-standard function body (BEGIN ATOMIC), a view
 * or a trigger needs what it names to exist first. Privileges come last so
 * that they cover everything.
 */
const DEFINITION_FILES = [
  'base/access.sql',
  'base/values.sql',
  'base/views.sql',
  'base/procedure-types.sql',
  'base/type-inputs.sql',
  'base/type-checks.sql',
  'base/run-state.sql',
  'api/data-format.sql',
  'api/create-procedure-checks.sql',
  'api/create-procedure.sql',
  'api/startup-runs.sql',
  'api/execute-arguments.sql',
  'api/execute.sql',
  'api/kill.sql',
  'api/drop.sql',
  'api/grants.sql',
  'api/show.sql',
  'api/environments.sql',
  'api/models.sql',
  'engine/plan.sql',
  'engine/claim.sql',
  'engine/report.sql',
  'engine/engines.sql',
  'engine/heartbeat.sql',
  'engine/staged-inputs.sql',
  'engine/direct-runs.sql',
  'engine/complete.sql',
  'engine/sweep.sql',
  'engine/segment-logins.sql',
  'engine/segment-pids.sql',
  'engine/segment-output.sql',
  'engine/startup.sql',
  'api/call-and-wait.sql',
  'privileges.sql',
] as const;

function readSchemaFile(relative: string): string {
  return readFileSync(new URL(relative, import.meta.url), 'utf8');
}

/** Every versioned step, oldest first. Versions only grow. */
export const migrations: readonly Migration[] = MIGRATION_FILES.map((file) => {
  const match = /^(\d{4})-(.+)\.sql$/.exec(file);
  if (match === null) throw new Error(`migration file ${file} is not named NNNN-name.sql`);
  return { version: Number(match[1]), name: match[2]!, sql: readSchemaFile(`./migrations/${file}`) };
});

/** The current definitions of the schema's functions, views, triggers and grants. */
export const definitions: Definitions = (() => {
  const sql = DEFINITION_FILES.map((file) => `-- ${file}\n${readSchemaFile(`./definitions/${file}`)}`).join('\n');
  return { files: DEFINITION_FILES, sql, digest: createHash('sha256').update(sql).digest('hex') };
})();
