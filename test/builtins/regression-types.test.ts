import { RandomForestRegression } from 'ml-random-forest';
import MultivariateLinearRegression from 'ml-regression-multivariate-linear';
import { describe, expect, it } from 'vitest';
import { useEngine } from '../support/engine-fixture.js';
import { useProxiedDatabase } from '../support/test-database.js';

const t = useProxiedDatabase('engine_regression', { statements: true });

interface RunRow {
  state: string;
  error: string | null;
  results: Record<string, Record<string, unknown>> | null;
}

const fixture = useEngine<RunRow>(t);
const { execute, finished, query } = fixture;

/** |a - b| within 1e-9 of the larger magnitude (or 1e-12 absolute near 0). */
function expectClose(actual: number, expected: number): void {
  const tolerance = Math.max(1e-12, 1e-9 * Math.max(Math.abs(actual), Math.abs(expected)));
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(tolerance);
}

/**
 * The synthetic data, deterministic (no random()): 600 rows with
 * y = 3 x1 - 2 x2 + 5 + a small noise in [-0.06, 0.06] (a fixed pattern
 * of i), and z = x1² + 4 sin(x2), non-linear, for the forest.
 * Rows 1..500 train, 501..600 are a held-out set for regression.test.
 */
async function loadSynthetic(): Promise<void> {
  await fixture.client.query(`
    CREATE TABLE synthetic AS
    SELECT i AS id, x1, x2,
           (3 * x1 - 2 * x2 + 5 + ((i * 7919) % 13 - 6) / 100.0)::float8 AS y,
           (x1 * x1 + 4 * sin(x2))::float8 AS z
      FROM (SELECT i, ((i * 37) % 101) / 10.0 AS x1, ((i * 53) % 97) / 10.0 AS x2
              FROM generate_series(1, 600) AS i) s`);
}

/** The rows' features (x1, x2) and the SQL function's value for each, by id. */
async function sqlPredictions(model: string): Promise<{ features: number[][]; predicted: number[] }> {
  const rows = await query<{ x1: string; x2: string; p: number }>(
    `SELECT x1, x2, procgate_models.${model}(x1, x2) AS p FROM synthetic ORDER BY id`,
  );
  return { features: rows.map((row) => [Number(row.x1), Number(row.x2)]), predicted: rows.map((row) => row.p) };
}

describe("TYPE 'regression.train' and 'regression.test'", () => {
  it('fits a linear model that recovers the coefficients; its SQL function predicts what the JavaScript model does', async () => {
    await loadSynthetic();
    await fixture.client.query("CREATE PROCEDURE train_regression TYPE 'regression.train'");
    const runId = await execute(
      `EXECUTE PROCEDURE train_regression(training_data => TABLE (SELECT x1, x2, y FROM synthetic WHERE id <= 500),
         label => 'y', model_name => 'synthetic_linear', seed => 3)`,
    );
    const run = await finished(runId);
    expect(run).toMatchObject({ state: 'succeeded', error: null });
    const results = run.results?.['0'] ?? {};
    expect(results).toMatchObject({ model: 'synthetic_linear', algorithm: 'linear', test_rows: 100, train_rows: 400 });
    expect(results['r2']).toBeGreaterThan(0.99);
    expect(results['rmse']).toBeLessThan(0.05);
    expect(results['mae']).toBeLessThan(0.05);
    const coefficients = results['coefficients'] as Record<string, number>;
    expect(coefficients['x1']).toBeCloseTo(3, 2);
    expect(coefficients['x2']).toBeCloseTo(-2, 2);
    expect(results['intercept']).toBeCloseTo(5, 1);

    type ModelRow = { type: string; model: unknown; metrics: Record<string, number>; label_column: string };
    const [model] = await query<ModelRow>(
      "SELECT type, model, metrics, label_column FROM procgate.models WHERE name = 'synthetic_linear'",
    );
    expect(model).toMatchObject({ type: 'regression', label_column: 'y' });
    expect(model?.metrics['r2']).toBe(results['r2']);
    const linear = MultivariateLinearRegression.load(model?.model as never);
    const { features, predicted } = await sqlPredictions('synthetic_linear');
    features.forEach((row, i) => expectClose(predicted[i] as number, (linear.predict(row) as number[])[0] as number));
  });

  it('grows a random forest with per-tree metrics; its SQL function (mean of CASEs) predicts what the JavaScript forest does', async () => {
    const runId = await execute(
      `EXECUTE PROCEDURE train_regression(training_data => TABLE (SELECT x1, x2, z FROM synthetic WHERE id <= 500),
         label => 'z', algorithm => 'random_forest', model_name => 'synthetic_forest', n_estimators => 12, max_depth => 8, seed => 5)`,
    );
    const run = await finished(runId, 30_000);
    expect(run).toMatchObject({ state: 'succeeded', error: null });
    const results = run.results?.['0'] ?? {};
    expect(results).toMatchObject({ algorithm: 'random_forest', test_rows: 100 });
    expect(results['r2']).toBeGreaterThan(0.9);

    const [model] = await query<{ model: unknown }>("SELECT model FROM procgate.models WHERE name = 'synthetic_forest'");
    const forest = RandomForestRegression.load(model?.model as never);
    const { features, predicted } = await sqlPredictions('synthetic_forest');
    const js = forest.predict(features);
    features.forEach((_, i) => expectClose(predicted[i] as number, js[i] as number));
    // The run adds up its trees' values as they grow: its test and training errors must be the loaded forest's.
    const rows = await query<{ x1: number; x2: number; z: number }>(
      'SELECT x1::float8 AS x1, x2::float8 AS x2, z FROM synthetic WHERE id <= 500',
    );
    const values = forest.predict(rows.map((row) => [row.x1, row.x2]));
    const errors = values.map((value, i) => (rows[i]?.z as number) - value);
    const squared = (r: unknown, n: number): number => (r as number) ** 2 * n;
    const sumOfSquares = errors.reduce((sum, e) => sum + e * e, 0);
    expectClose(squared(results['rmse'], 100) + squared(results['train_rmse'], 400), sumOfSquares);
    expectClose(
      (results['mae'] as number) * 100 + (results['train_mae'] as number) * 400,
      errors.reduce((sum, e) => sum + Math.abs(e), 0),
    );

    const metrics = await query<{ n: number; last: number }>(
      `SELECT count(*)::int AS n, (array_agg(value ORDER BY step DESC))[1] AS last
         FROM procgate.run_metrics WHERE run_id = $1 AND metric = 'forest_rmse'`,
      [runId],
    );
    expect(metrics[0]?.n).toBe(12);
    expectClose(metrics[0]?.last as number, results['rmse'] as number);
  });

  it('gives the same forest for the same seed, whatever the row order, and replaces the model', async () => {
    const before = await query<{ model: unknown }>("SELECT model FROM procgate.models WHERE name = 'synthetic_forest'");
    const again = await finished(
      await execute(
        `EXECUTE PROCEDURE train_regression(training_data => TABLE (SELECT x1, x2, z FROM synthetic WHERE id <= 500 ORDER BY id DESC),
           label => 'z', algorithm => 'random_forest', model_name => 'synthetic_forest', n_estimators => 12, max_depth => 8, seed => 5)`,
      ),
      30_000,
    );
    expect(again.state).toBe('succeeded');
    const after = await query<{ model: unknown }>("SELECT model FROM procgate.models WHERE name = 'synthetic_forest'");
    expect(after).toHaveLength(1);
    expect(after[0]?.model).toEqual(before[0]?.model);
  });

  it('regression.test gives the R², RMSE and MAE that SQL computes with the model function on a held-out set', async () => {
    await fixture.client.query("CREATE PROCEDURE test_regression TYPE 'regression.test'");
    for (const [model, label] of [
      ['synthetic_linear', 'y'],
      ['synthetic_forest', 'z'],
    ] as const) {
      const run = await finished(
        await execute(
          `EXECUTE PROCEDURE test_regression(model_name => '${model}', test_data => TABLE (SELECT x1, x2, ${label} FROM synthetic WHERE id > 500)
             ${model === 'synthetic_forest' ? ", label => 'z'" : ''})`,
        ),
      );
      expect(run).toMatchObject({ state: 'succeeded', error: null });
      const results = run.results?.['0'] ?? {};
      expect(results).toMatchObject({ model, rows: 100, skipped_rows: 0 });
      const [expected] = await query<{ r2: number; rmse: number; mae: number }>(
        `SELECT 1 - sum((actual - p) ^ 2) / sum((actual - mean) ^ 2) AS r2,
                sqrt(avg((actual - p) ^ 2)) AS rmse, avg(abs(actual - p)) AS mae
           FROM (SELECT ${label} AS actual, procgate_models.${model}(x1, x2) AS p, avg(${label}) OVER () AS mean
                   FROM synthetic WHERE id > 500) s`,
      );
      expectClose(results['r2'] as number, expected?.r2 as number);
      expectClose(results['rmse'] as number, expected?.rmse as number);
      expectClose(results['mae'] as number, expected?.mae as number);
      if (model === 'synthetic_linear') expect(results['r2']).toBeGreaterThan(0.99);
    }
  });

  // Once failed runs; now each fails the EXECUTE with its SQLSTATE, naming the parameter.
  it('refuses a non-numeric label, an unknown algorithm and an unknown model at EXECUTE', async () => {
    await expect(
      fixture.client.query(
        "EXECUTE PROCEDURE train_regression(training_data => TABLE (SELECT x1, x2, y::text AS y FROM synthetic), label => 'y', model_name => 'm')",
      ),
    ).rejects.toMatchObject({
      code: '42804',
      message: 'column named by "label" of TABLE argument "training_data" of type "regression.train" must be numeric: "y" (text)',
    });
    await expect(
      fixture.client.query(
        "EXECUTE PROCEDURE train_regression(training_data => TABLE (SELECT x1, x2, y FROM synthetic), label => 'y', algorithm => 'svr', model_name => 'm')",
      ),
    ).rejects.toMatchObject({
      code: '22023',
      message: 'invalid value "svr" for parameter "algorithm" of type "regression.train"',
      hint: 'Its values: linear, random_forest.',
    });
    expect(await query("SELECT count(*)::int AS n FROM procgate.models WHERE name = 'm'")).toEqual([{ n: 0 }]);
    await expect(
      fixture.client.query("EXECUTE PROCEDURE test_regression(model_name => 'nope', test_data => TABLE (SELECT x1, x2, y FROM synthetic))"),
    ).rejects.toMatchObject({ code: '42704', message: 'model "nope" does not exist' });
  });
});
