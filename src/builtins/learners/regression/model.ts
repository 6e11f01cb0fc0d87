/**
 * What regression.train and regression.test share: reading a numeric
 * data set from a staged input, the metrics (R², RMSE, MAE), per-step
 * metrics, and the model row with its SQL function.
 */
import { RandomForestRegression } from 'ml-random-forest';
import MultivariateLinearRegression from 'ml-regression-multivariate-linear';
import type pg from 'pg';
import type { StagedInput } from '../../../engine/run-planner.js';
import { sqlIdentifier } from '../sql-quoting.js';
import { TypeParameterError } from '../../../engine/type-parameter-error.js';
import { NUMERIC_TYPES, nonNumericColumns, readStagedRows } from '../staged-rows.js';

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
  const bad = nonNumericColumns(columns);
  if (bad !== '') {
    throw new TypeParameterError(`feature columns must be numeric: ${bad} (encode or cast them in the TABLE query)`);
  }
  const { labels, x, skipped } = await readStagedRows(pool, {
    from: `procgate_staging.${sqlIdentifier(input.table)}`,
    label: { column: sqlIdentifier(label), as: 'float8' },
    features: columns.map((column) => sqlIdentifier(column.name)),
  });
  const y = labels as number[];
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

