import { DecisionTreeClassifier } from 'ml-cart';
import { RandomForestClassifier } from 'ml-random-forest';
import { describe, expect, it } from 'vitest';
import { predictScores, type ScoreModel } from '../../src/builtins/learners/classifier/score-models.js';
import { useEngine } from '../support/engine-fixture.js';
import { IRIS_FEATURES, irisRows, loadIris } from '../support/iris.js';
import { eventually, useProxiedDatabase } from '../support/test-database.js';

const t = useProxiedDatabase('engine_classifier', { statements: true });

interface RunRow {
  state: string;
  error: string | null;
  results: Record<string, Record<string, unknown>> | null;
}

const fixture = useEngine<RunRow>(t);
const { execute, finished, query } = fixture;

const FEATURES = IRIS_FEATURES;

async function eventuallyRunning(runId: string): Promise<void> {
  await eventually(
    () => fixture.run(runId),
    (row) => row.state === 'running',
  );
}

/** The generated function's prediction for every iris row, by id. */
async function sqlPredictions(model: string): Promise<string[]> {
  const rows = await query<{ p: string }>(
    `SELECT procgate_models.${model}(${FEATURES.join(', ')}) AS p FROM iris ORDER BY id`,
  );
  return rows.map((row) => row.p);
}

describe("TYPE 'classifier.train'", () => {
  it('ships iris: 150 rows, 50 per species', async () => {
    await loadIris(fixture.client);
    expect(await query('SELECT species, count(*)::int AS n FROM iris GROUP BY species ORDER BY species')).toEqual([
      { species: 'setosa', n: 50 },
      { species: 'versicolor', n: 50 },
      { species: 'virginica', n: 50 },
    ]);
  });

  it('trains a random forest above 0.9 accuracy; its SQL function predicts what the JavaScript model does', async () => {
    await fixture.client.query("CREATE PROCEDURE train_classifier TYPE 'classifier.train'");
    const runId = await execute(
      `EXECUTE PROCEDURE train_classifier(training_data => TABLE (SELECT ${FEATURES.join(', ')}, species FROM iris),
         label => 'species', model_name => 'iris_forest', n_estimators => 25, seed => 7)`,
    );
    const run = await finished(runId);
    expect(run).toMatchObject({ state: 'succeeded', error: null });
    const results = run.results?.['0'] ?? {};
    expect(results).toMatchObject({ model: 'iris_forest', algorithm: 'random_forest', test_rows: 30, train_rows: 120 });
    expect(results['accuracy']).toBeGreaterThan(0.9);

    const [model] = await query<{
      model: unknown;
      metrics: { accuracy: number };
      label_values: string[];
      created_by_run: string;
    }>(
      "SELECT model, metrics, label_values, created_by_run FROM procgate.models WHERE name = 'iris_forest'",
    );
    expect(model).toMatchObject({ label_values: ['setosa', 'versicolor', 'virginica'], created_by_run: runId });
    expect(model?.metrics.accuracy).toBe(results['accuracy']);
    const forest = RandomForestClassifier.load(model?.model as never);
    const js = (forest.predict(irisRows().map((row) => row.features)) as number[]).map((i) => model?.label_values[i]);
    expect(await sqlPredictions('iris_forest')).toEqual(js);
    // The run counts its accuracies from the trees' votes as they grow: they must be the loaded forest's.
    const right = js.filter((label, i) => label === irisRows()[i]?.species).length;
    expect((results['accuracy'] as number) * 30 + (results['train_accuracy'] as number) * 120).toBeCloseTo(right, 9);

    const metrics = await query<{ n: number; last: number }>(
      `SELECT count(*)::int AS n, (array_agg(value ORDER BY step DESC))[1] AS last
         FROM procgate.run_metrics WHERE run_id = $1 AND metric = 'forest_accuracy'`,
      [runId],
    );
    expect(metrics).toEqual([{ n: 25, last: results['accuracy'] }]);
  });

  it('gives the same model for the same seed, and replaces the model and its function on retraining', async () => {
    const again = await finished(
      await execute(
        `EXECUTE PROCEDURE train_classifier(training_data => TABLE (SELECT species, ${FEATURES.join(', ')} FROM iris ORDER BY id DESC),
           label => 'species', model_name => 'iris_forest', n_estimators => 25, seed => 7)`,
      ),
    );
    expect(again.state).toBe('succeeded');
    const models = await query<{ n: number }>("SELECT count(*)::int AS n FROM procgate.models WHERE name = 'iris_forest'");
    expect(models).toEqual([{ n: 1 }]);
    expect(again.results?.['0']?.['accuracy']).toBeGreaterThan(0.9);
  });

  it('draws max_samples rows for each tree of a forest', async () => {
    const runId = await execute(
      `EXECUTE PROCEDURE train_classifier(training_data => TABLE (SELECT ${FEATURES.join(', ')}, species FROM iris),
         label => 'species', model_name => 'iris_sampled', n_estimators => 15, max_samples => 40, seed => 7)`,
    );
    expect((await finished(runId)).state).toBe('succeeded');
    const [model] = await query<{ model: unknown; hyperparameters: Record<string, unknown>; label_values: string[] }>(
      "SELECT model, hyperparameters, label_values FROM procgate.models WHERE name = 'iris_sampled'",
    );
    expect(model?.hyperparameters).toMatchObject({ n_estimators: 15, max_samples: 40 });
    const forest = RandomForestClassifier.load(model?.model as never);
    const js = (forest.predict(irisRows().map((row) => row.features)) as number[]).map((i) => model?.label_values[i]);
    expect(await sqlPredictions('iris_sampled')).toEqual(js);
    // Each tree was grown on 40 rows: its root split saw 40.
    const trees = (model?.model as { baseModel: { estimators: { root: { numberSamples?: number } }[] } }).baseModel
      .estimators;
    expect(trees.map((tree) => tree.root.numberSamples)).toEqual(trees.map(() => 40));
  });

  it('trains a decision tree; its nested CASE predicts what the JavaScript tree does', async () => {
    const runId = await execute(
      `EXECUTE PROCEDURE train_classifier(training_data => TABLE (SELECT ${FEATURES.join(', ')}, species FROM iris),
         label => 'species', algorithm => 'decision_tree', model_name => 'iris_tree')`,
    );
    const run = await finished(runId);
    expect(run).toMatchObject({ state: 'succeeded', error: null });
    expect(run.results?.['0']?.['accuracy']).toBeGreaterThan(0.85);
    const [model] = await query<{ model: unknown; label_values: string[] }>(
      "SELECT model, label_values FROM procgate.models WHERE name = 'iris_tree'",
    );
    const tree = DecisionTreeClassifier.load(model?.model);
    const js = tree.predict(irisRows().map((row) => row.features)).map((i) => model?.label_values[i]);
    expect(await sqlPredictions('iris_tree')).toEqual(js);
  });

  it.each([
    ['logistic_regression', 'iris_logistic', 0.9],
    ['naive_bayes', 'iris_bayes', 0.9],
  ])('trains %s above %s accuracy; its SQL function predicts what the JavaScript model does', async (algorithm, name, bar) => {
    const runId = await execute(
      `EXECUTE PROCEDURE train_classifier(training_data => TABLE (SELECT ${FEATURES.join(', ')}, species FROM iris),
         label => 'species', algorithm => '${algorithm}', model_name => '${name}', seed => 3)`,
    );
    const run = await finished(runId);
    expect(run).toMatchObject({ state: 'succeeded', error: null });
    const results = run.results?.['0'] ?? {};
    expect(results).toMatchObject({ algorithm, test_rows: 30, train_rows: 120 });
    expect(results['accuracy']).toBeGreaterThanOrEqual(bar);
    expect(results['train_accuracy']).toBeGreaterThanOrEqual(bar);
    const [model] = await query<{ model: ScoreModel; label_values: string[] }>(
      'SELECT model, label_values FROM procgate.models WHERE name = $1',
      [name],
    );
    const js = predictScores(model!.model, irisRows().map((row) => row.features)).map((i) => model?.label_values[i]);
    expect(await sqlPredictions(name)).toEqual(js);
    // Both predict every species somewhere: not a constant model.
    expect(new Set(js)).toEqual(new Set(['setosa', 'versicolor', 'virginica']));
  });

  it('writes the loss and test accuracy of logistic regression every tenth epoch, the loss falling', async () => {
    const ok = await execute(
      `EXECUTE PROCEDURE train_classifier(training_data => TABLE (SELECT ${FEATURES.join(', ')}, species FROM iris),
         label => 'species', algorithm => 'logistic_regression', model_name => 'iris_logistic_epochs', epochs => 50)`,
    );
    expect((await finished(ok)).state).toBe('succeeded');
    const losses = await query<{ step: number; value: number }>(
      "SELECT step, value FROM procgate.run_metrics WHERE run_id = $1 AND metric = 'loss' ORDER BY step",
      [ok],
    );
    expect(losses.map((row) => row.step)).toEqual([10, 20, 30, 40, 50]);
    expect(losses.at(-1)!.value).toBeLessThan(losses[0]!.value);
    const accuracy = await query<{ n: number }>(
      "SELECT count(*)::int AS n FROM procgate.run_metrics WHERE run_id = $1 AND metric = 'test_accuracy'",
      [ok],
    );
    expect(accuracy).toEqual([{ n: 5 }]);
  });

  it('grows trees off the event loop: other runs finish while a slow tree grows, and a kill stops it', async () => {
    // 3,000 rows of noise: ml-cart's quadratic split search takes seconds for one tree.
    await fixture.client.query(
      `CREATE TABLE noise AS SELECT g AS id, random() AS a, random() AS b, random() AS c, (g % 3)::text AS label
         FROM generate_series(1, 3000) g`,
    );
    await fixture.client.query("CREATE PROCEDURE quick_sql TYPE 'sql' WITH (statements = ARRAY['SELECT 1 AS one'])");
    const slow = await execute(
      `EXECUTE PROCEDURE train_classifier(training_data => TABLE (SELECT a, b, c, label FROM noise),
         algorithm => 'decision_tree', model_name => 'noise_tree', min_samples => 0, test_split => 0)`,
    );
    await eventuallyRunning(slow);
    const quick = await finished(await execute('EXECUTE PROCEDURE quick_sql()'));
    expect(quick.state).toBe('succeeded');
    // The tree was still growing when the other run ended.
    expect((await fixture.run(slow)).state).toBe('running');
    expect((await finished(slow, 60_000)).state).toBe('succeeded');

    const killed = await execute(
      `EXECUTE PROCEDURE train_classifier(training_data => TABLE (SELECT a, b, c, label FROM noise),
         algorithm => 'decision_tree', model_name => 'noise_tree_killed', min_samples => 0, test_split => 0)`,
    );
    await eventuallyRunning(killed);
    await fixture.client.query(`KILL RUN '${killed}'`);
    expect((await finished(killed)).state).toBe('killed');
    expect(await query("SELECT name FROM procgate.models WHERE name = 'noise_tree_killed'")).toEqual([]);
  });

  // Once failed runs; now each fails the EXECUTE with its SQLSTATE, naming the parameter, and queues nothing.
  it('refuses an unknown algorithm, a missing label column and non-numeric features at EXECUTE', async () => {
    const before = await query<{ n: number }>('SELECT count(*)::int AS n FROM procgate.runs');
    await expect(
      fixture.client.query(
        "EXECUTE PROCEDURE train_classifier(training_data => TABLE (iris), label => 'species', algorithm => 'svm', model_name => 'm')",
      ),
    ).rejects.toMatchObject({
      code: '22023',
      message: 'invalid value "svm" for parameter "algorithm" of type "classifier.train"',
      hint: 'Its values: random_forest, decision_tree, logistic_regression, naive_bayes.',
    });
    await expect(
      fixture.client.query(`EXECUTE PROCEDURE train_classifier(training_data => TABLE (SELECT ${FEATURES.join(', ')} FROM iris), model_name => 'm')`),
    ).rejects.toMatchObject({
      code: '42703',
      message: 'TABLE argument "training_data" of type "classifier.train" has no column "label"',
      detail: `Parameter "label" names it. Its columns: ${FEATURES.join(', ')}.`,
    });
    await expect(
      fixture.client.query(
        "EXECUTE PROCEDURE train_classifier(training_data => TABLE (SELECT sepal_length, species::text AS kind, species, species AS name FROM iris), label => 'species', model_name => 'm')",
      ),
    ).rejects.toMatchObject({
      code: '42804',
      message:
        'feature columns of TABLE argument "training_data" of type "classifier.train" must be numeric: "kind" (text), "name" (text)',
    });
    expect(await query('SELECT count(*)::int AS n FROM procgate.runs')).toEqual(before);
    expect(await query("SELECT count(*)::int AS n FROM procgate.models WHERE name = 'm'")).toEqual([{ n: 0 }]);
  });
});
