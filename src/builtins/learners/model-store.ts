import type pg from 'pg';
import { SqlState } from '../../errors/sqlstate.js';
import { sqlIdentifier } from './sql-quoting.js';
import type { ParameterChecks } from '../../catalog/index.js';
import type { TypeContext } from '../../engine/procedure-type.js';
import { TypeParameterError } from '../../engine/type-parameter-error.js';

/** One model as procgate_internal.models keeps it, with the function that applies it. */
export interface NewModel {
  readonly name: string;
  readonly type: 'classifier' | 'regression' | 'kmeans';
  readonly algorithm: string;
  readonly features: readonly string[];
  readonly featureTypes: readonly string[];
  readonly labelColumn: string | null;
  readonly labelValues: readonly string[];
  readonly hyperparameters: Record<string, unknown>;
  readonly metrics: Record<string, unknown>;
  readonly model: unknown;
  /** CREATE FUNCTION procgate_models.<name>(features double precision...), or none. */
  readonly sqlFunction: string | undefined;
}

/** A model's name: a lower-case identifier, so procgate_models.<name>(...) needs no quotes. */
const MODEL_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** What EXECUTE checks of a model_name parameter: the pattern; the runner checks again. */
export const MODEL_NAME_PATTERN: NonNullable<ParameterChecks['pattern']> = {
  regex: MODEL_NAME.source,
  says: 'a lower-case identifier (letters, digits, _; at most 63 characters)',
};

/** The model name a run was given, checked to be one (see MODEL_NAME). */
export function checkModelName(name: unknown): string {
  if (typeof name !== 'string' || !MODEL_NAME.test(name)) {
    throw new TypeParameterError(
      `model_name "${String(name)}" must be a lower-case identifier (letters, digits, _; at most 63 characters)`,
    );
  }
  return name;
}

/** A model name taken by another role: the run fails (a run error, not the engine's). */
export class ModelOwnerError extends Error {
  readonly code = SqlState.insufficientPrivilege;
}

/** Per-step metrics, written at once (not in the completion): they show while the run trains. */
export async function writeMetrics(
  context: TypeContext,
  metrics: readonly { step: number; metric: string; value: number | null }[],
): Promise<void> {
  await context.pool.query(
    `INSERT INTO procgate_internal.run_metrics (run_id, step, metric, value)
     SELECT $1, m.step, m.metric, m.value
       FROM ROWS FROM (pg_catalog.unnest($2::int[]), pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::float8[]))
            AS m (step, metric, value)
     ON CONFLICT (run_id, step, metric) DO UPDATE SET value = excluded.value, at = excluded.at`,
    [context.runId, metrics.map((m) => m.step), metrics.map((m) => m.metric), metrics.map((m) => m.value)],
  );
}

/**
 * The model row and its function, in the completion transaction: a model
 * of the same name (of any type) is replaced if the caller owns it, its
 * function dropped with it; someone else's is refused.
 */
export async function saveModel(client: pg.PoolClient, context: TypeContext, model: NewModel): Promise<void> {
  const existing = await client.query<{ owner: string }>(
    'SELECT owner FROM procgate_internal.models WHERE name = $1 FOR UPDATE',
    [model.name],
  );
  const owner = existing.rows[0]?.owner;
  if (owner !== undefined && owner !== context.role) {
    throw new ModelOwnerError(`model "${model.name}" belongs to role "${owner}"`);
  }
  await client.query('DELETE FROM procgate_internal.models WHERE name = $1', [model.name]);
  const functions = await client.query<{ fn: string }>(
    `SELECT p.oid::regprocedure::text AS fn FROM pg_catalog.pg_proc p
      WHERE p.pronamespace = 'procgate_models'::regnamespace AND p.proname = $1`,
    [model.name],
  );
  for (const { fn } of functions.rows) await client.query(`DROP FUNCTION ${fn}`);
  await client.query(
    `INSERT INTO procgate_internal.models (name, type, algorithm, feature_names, feature_types, label_column,
       label_values, hyperparameters, metrics, model, sql_function, owner, created_by_run)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
    [
      model.name,
      model.type,
      model.algorithm,
      model.features,
      model.featureTypes,
      model.labelColumn,
      model.labelValues,
      JSON.stringify(model.hyperparameters),
      JSON.stringify(model.metrics),
      JSON.stringify(model.model),
      model.sqlFunction === undefined ? null : `procgate_models.${model.name}`,
      context.role,
      context.runId,
    ],
  );
  if (model.sqlFunction === undefined) return;
  await client.query(model.sqlFunction);
  const signature = `procgate_models.${sqlIdentifier(model.name)}(${model.features.map(() => 'double precision').join(', ')})`;
  // The caller's function: theirs to call, GRANT EXECUTE on, replace or drop; nobody else's until they grant it.
  await client.query(`ALTER FUNCTION ${signature} OWNER TO ${sqlIdentifier(context.role)}`);
  await client.query(`REVOKE ALL ON FUNCTION ${signature} FROM PUBLIC`);
}
