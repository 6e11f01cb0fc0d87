/**
 * What regression.train and regression.test share: reading a numeric
 * data set from a staged input, the metrics (R², RMSE, MAE), per-step
 * metrics, and the model row with its SQL function.
 */
import { RandomForestRegression } from 'ml-random-forest';
import MultivariateLinearRegression from 'ml-regression-multivariate-linear';
import type pg from 'pg';
import type { StagedInput } from '../../run-planner.js';
import { sqlIdentifier } from '../classifier/sql-function.js';
import { type TypeContext, TypeParameterError } from '../procedure-type.js';

/** PostgreSQL's numeric types (oids): features and the label must be one of them. */
const NUMERIC_TYPES = new Set([20, 21, 23, 700, 701, 1700]);

/** Model names are lower-case SQL identifiers, so `procgate_models.name(...)` works unquoted. */
export const MODEL_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export interface RegressionDataset {
  readonly features: readonly string[];
  readonly featureTypes: readonly string[];
  readonly x: number[][];
  readonly y: number[];
  /** Rows left out because their label or a feature was NULL. */
  readonly skipped: number;
}

export interface RegressionMetrics {
  readonly r2: number | null;
  readonly rmse: number | null;
  readonly mae: number | null;
}

/**
 * All the staged rows of `input` as doubles, in a canonical order (by
 * label, then features) so a split depends on the rows and the seed, not
 * the query's order. `features` given: those columns, in that order (a
 * model's); else every column but the label, which must all be numeric.
 */
export async function readRegressionData(
  pool: pg.Pool,
  input: StagedInput,
  label: string,
  features?: readonly string[],
): Promise<RegressionDataset> {
  const names = (): string => input.columns.map((column) => column.name).join(', ');
  const labelColumn = input.columns.find((column) => column.name === label);
  if (labelColumn === undefined) throw new TypeParameterError(`the data has no label column "${label}" (its columns: ${names()})`);
  if (!NUMERIC_TYPES.has(labelColumn.typeOid)) {
    throw new TypeParameterError(`label column "${label}" is ${labelColumn.type}, not numeric (regression needs a numeric label)`);
  }
  const columns =
    features === undefined
      ? input.columns.filter((column) => column.name !== label)
      : features.map((name) => {
          const column = input.columns.find((candidate) => candidate.name === name);
          if (column === undefined) throw new TypeParameterError(`the data has no feature column "${name}" (its columns: ${names()})`);
          return column;
        });
  if (columns.length === 0) throw new TypeParameterError('the data has no feature columns besides the label');
  const bad = columns.find((column) => !NUMERIC_TYPES.has(column.typeOid));
  if (bad !== undefined) {
    throw new TypeParameterError(
      `feature column "${bad.name}" is ${bad.type}, not numeric (features must be numeric; encode or cast it in the TABLE query)`,
    );
  }
  const values = [label, ...columns.map((column) => column.name)].map((name) => `${sqlIdentifier(name)}::float8`);
  const { rows } = await pool.query<{ row: (string | null)[] }>({
    text: `SELECT ARRAY[${values.map((value) => `${value}::text`).join(', ')}] AS row
             FROM procgate_staging.${sqlIdentifier(input.table)}
            ORDER BY ${values.join(', ')}`,
  });
  const x: number[][] = [];
  const y: number[] = [];
  let skipped = 0;
  for (const { row } of rows) {
    const [value, ...rest] = row;
    if (value === null || value === undefined || rest.some((item) => item === null)) {
      skipped += 1;
      continue;
    }
    y.push(Number(value));
    x.push(rest.map((item) => Number(item)));
  }
  return {
    features: columns.map((column) => column.name),
    featureTypes: columns.map((column) => column.type),
    x,
    y,
    skipped,
  };
}

/** R² (1 - SSres/SStot, around the actual values' mean), RMSE and MAE; all null without rows. */
export function regressionMetrics(predicted: readonly number[], actual: readonly number[]): RegressionMetrics {
  const n = actual.length;
  if (n === 0) return { r2: null, rmse: null, mae: null };
  const mean = actual.reduce((sum, value) => sum + value, 0) / n;
  let squared = 0;
  let absolute = 0;
  let total = 0;
  actual.forEach((value, i) => {
    const error = value - (predicted[i] as number);
    squared += error * error;
    absolute += Math.abs(error);
    total += (value - mean) * (value - mean);
  });
  return { r2: total === 0 ? null : 1 - squared / total, rmse: Math.sqrt(squared / n), mae: absolute / n };
}

/** A stored model (procgate_internal.models.model) as a predictor. */
export function predictorOf(algorithm: string, model: unknown): (rows: number[][]) => number[] {
  switch (algorithm) {
    case 'linear': {
      const linear = MultivariateLinearRegression.load(model as never);
      return (rows) => rows.map((row) => (linear.predict(row) as number[])[0] as number);
    }
    case 'random_forest': {
      const forest = RandomForestRegression.load(model as never);
      return (rows) => (rows.length === 0 ? [] : forest.predict(rows));
    }
    default:
      throw new Error(`a regression model of unknown algorithm "${algorithm}"`);
  }
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
 * The model row (type 'regression') and its function, in the completion
 * transaction: a model of the same name is replaced if the caller owns it
 * (its function dropped with it); someone else's is refused.
 */
export async function saveRegressionModel(
  client: pg.PoolClient,
  context: TypeContext,
  model: {
    name: string;
    algorithm: string;
    data: RegressionDataset;
    label: string;
    hyperparameters: Record<string, unknown>;
    metrics: Record<string, unknown>;
    model: unknown;
    sqlFunction: string;
  },
): Promise<void> {
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
     VALUES ($1, 'regression', $2, $3, $4, $5, '{}', $6, $7, $8, $9, $10, $11)`,
    [
      model.name,
      model.algorithm,
      model.data.features,
      model.data.featureTypes,
      model.label,
      JSON.stringify(model.hyperparameters),
      JSON.stringify(model.metrics),
      JSON.stringify(model.model),
      `procgate_models.${model.name}`,
      context.role,
      context.runId,
    ],
  );
  await client.query(model.sqlFunction);
  const signature = `procgate_models.${sqlIdentifier(model.name)}(${model.data.features.map(() => 'double precision').join(', ')})`;
  // The caller's function: theirs to call, GRANT EXECUTE on, replace or drop; nobody else's until they grant it.
  await client.query(`ALTER FUNCTION ${signature} OWNER TO ${sqlIdentifier(context.role)}`);
  await client.query(`REVOKE ALL ON FUNCTION ${signature} FROM PUBLIC`);
}

/** A model name taken by another role: the run fails (a run error, not the engine's). */
export class ModelOwnerError extends Error {
  readonly code = '42501';
}
