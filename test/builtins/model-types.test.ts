import { RandomForestClassifier } from 'ml-random-forest';
import { describe, expect, it } from 'vitest';
import { seededRandom, shuffledIndexes } from '../../src/builtins/learners/random.js';
import { useEngine } from '../support/engine-fixture.js';
import { IRIS_FEATURES, type IrisRow, irisRows, loadIris } from '../support/iris.js';
import { useProxiedDatabase } from '../support/test-database.js';

const t = useProxiedDatabase('engine_model_types', { statements: true });

interface RunRow {
  state: string;
  error: string | null;
  segments_total: number | null;
  rows_out: string | null;
  results: Record<string, Record<string, unknown>> | null;
}

const fixture = useEngine<RunRow>(t);
const { execute, finished, query } = fixture;

const FEATURES = IRIS_FEATURES;
const SEED = 7;

/**
 * The ids of the rows classifier.train held out with `seed` and test_split 0.2:
 * its canonical order (label in "C" order, then the features), shuffled by the seed.
 */
function heldOutIds(seed: number): number[] {
  const sorted = [...irisRows()].sort((a, b) => {
    if (a.species !== b.species) return a.species < b.species ? -1 : 1;
    for (let i = 0; i < FEATURES.length; i += 1) {
      const d = (a.features[i] as number) - (b.features[i] as number);
      if (d !== 0) return d;
    }
    return 0;
  });
  const order = shuffledIndexes(sorted.length, seededRandom(seed));
  return order.slice(0, Math.round(sorted.length * 0.2)).map((index) => (sorted[index] as IrisRow).id);
}

describe("TYPE 'classifier.test' and TYPE 'model.apply'", () => {
  let trainingAccuracy: number;

  it('trains a forest on iris to evaluate and apply', async () => {
    await loadIris(fixture.client);
    await fixture.client.query("CREATE PROCEDURE train_iris TYPE 'classifier.train'");
    const run = await finished(
      await execute(
        `EXECUTE PROCEDURE train_iris(training_data => TABLE (SELECT ${FEATURES.join(', ')}, species FROM iris),
           label => 'species', model_name => 'iris_m', n_estimators => 15, seed => ${String(SEED)})`,
      ),
    );
    expect(run).toMatchObject({ state: 'succeeded', error: null });
    trainingAccuracy = run.results?.['0']?.['accuracy'] as number;
    expect(trainingAccuracy).toBeGreaterThan(0.9);
  });

  it("classifier.test on the training run's held-out rows gives its accuracy; the confusion matrix sums to the rows", async () => {
    await fixture.client.query(
      "CREATE PROCEDURE evaluate TYPE 'classifier.test' RETURNS TABLE (actual text, predicted text, n bigint)",
    );
    const ids = heldOutIds(SEED);
    expect(ids).toHaveLength(30);
    const run = await finished(
      await execute(
        `EXECUTE PROCEDURE evaluate(model_name => 'iris_m',
           test_data => TABLE (SELECT * FROM iris WHERE id = ANY ('{${ids.join(',')}}'::int[]))) INTO iris_confusion`,
      ),
    );
    expect(run).toMatchObject({ state: 'succeeded', error: null });
    const results = run.results?.['0'] ?? {};
    expect(results).toMatchObject({ model: 'iris_m', label: 'species', rows: 30, skipped_rows: 0 });
    expect(results['accuracy']).toBe(trainingAccuracy);
    const classes = results['per_class'] as { class: string; precision: number; recall: number; f1: number; support: number }[];
    expect(classes.map((c) => c.class)).toEqual(['setosa', 'versicolor', 'virginica']);
    expect(classes.reduce((sum, c) => sum + c.support, 0)).toBe(30);
    for (const c of classes) {
      expect(c.f1).toBeCloseTo((2 * c.precision * c.recall) / (c.precision + c.recall), 12);
    }

    const matrix = await query<{ actual: string; predicted: string; n: string }>(
      'SELECT actual, predicted, n FROM iris_confusion ORDER BY actual, predicted',
    );
    expect(matrix.reduce((sum, cell) => sum + Number(cell.n), 0)).toBe(30);
    const right = matrix
      .filter((cell) => cell.actual === cell.predicted)
      .reduce((sum, cell) => sum + Number(cell.n), 0);
    expect(right / 30).toBe(trainingAccuracy);
    expect(matrix.map((cell) => ({ ...cell, n: Number(cell.n) }))).toEqual(results['confusion_matrix']);
    const [type] = await query<{ t: string }>(
      "SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'iris_confusion'::regclass AND attname = 'n'",
    );
    expect(type?.t).toBe('bigint');
  });

  it('classifier.test on all of iris without an INTO table, and refuses an INTO table of another shape', async () => {
    await fixture.client.query("CREATE PROCEDURE evaluate_plain TYPE 'classifier.test'");
    const run = await finished(
      await execute("EXECUTE PROCEDURE evaluate_plain(model_name => 'iris_m', test_data => TABLE (iris), label => 'species')"),
    );
    expect(run).toMatchObject({ state: 'succeeded', error: null });
    expect(run.results?.['0']?.['rows']).toBe(150);
    const matrix = run.results?.['0']?.['confusion_matrix'] as { n: number }[];
    expect(matrix.reduce((sum, cell) => sum + cell.n, 0)).toBe(150);

    await fixture.client.query('CREATE TABLE wrong_shape (a int)');
    const wrong = await finished(
      await execute("EXECUTE PROCEDURE evaluate_plain(model_name => 'iris_m', test_data => TABLE (iris)) INTO wrong_shape"),
    );
    expect(wrong.state).toBe('failed');
    expect(wrong.error).toMatch(/INTO table "wrong_shape" has no column "actual", "predicted", "n"/);
  });

  it('model.apply over iris in 3 segments writes 150 rows predicted as the SQL function and the JavaScript model do', async () => {
    await fixture.client.query("CREATE PROCEDURE score TYPE 'model.apply'");
    const runId = await execute(
      "EXECUTE PROCEDURE score(model_name => 'iris_m', input => TABLE (iris)) INTO iris_scored WITH (segments = 3)",
    );
    const run = await finished(runId);
    expect(run).toMatchObject({ state: 'succeeded', error: null, segments_total: 3, rows_out: '150' });
    const shares = await query<{ segment: number; rows_out: string }>(
      'SELECT segment, rows_out::text FROM procgate.run_segments WHERE run_id = $1 ORDER BY segment',
      [runId],
    );
    expect(shares.map((share) => share.segment)).toEqual([0, 1, 2]);
    // iris stages into more than one block: more than one segment scores (and adds the column or finds it added).
    expect(shares.filter((share) => Number(share.rows_out) > 0).length).toBeGreaterThan(1);
    const scored = await query<{ id: number; prediction: string; via_sql: string }>(
      `SELECT id, prediction, procgate_models.iris_m(${FEATURES.join(', ')}) AS via_sql FROM iris_scored ORDER BY id`,
    );
    expect(scored).toHaveLength(150);
    expect(scored.map((row) => row.id)).toEqual(irisRows().map((row) => row.id));
    expect(scored.map((row) => row.prediction)).toEqual(scored.map((row) => row.via_sql));
    const [model] = await query<{ model: unknown; label_values: string[] }>(
      "SELECT model, label_values FROM procgate.models WHERE name = 'iris_m'",
    );
    const forest = RandomForestClassifier.load(model?.model as never);
    const js = (forest.predict(irisRows().map((row) => row.features)) as number[]).map((i) => model?.label_values[i]);
    expect(scored.map((row) => row.prediction)).toEqual(js);
    // The input's columns, then the prediction column (added to the table the engine created).
    const columns = await query<{ name: string }>(
      "SELECT attname AS name FROM pg_attribute WHERE attrelid = 'iris_scored'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
    );
    expect(columns.map((column) => column.name)).toEqual(['id', ...FEATURES, 'species', 'prediction']);

    // Again into the same table, with another prediction column name: appended, by name.
    const again = await finished(
      await execute(
        "EXECUTE PROCEDURE score(model_name => 'iris_m', input => TABLE (SELECT * FROM iris WHERE id <= 10), prediction_column => 'guess') INTO iris_scored",
      ),
    );
    expect(again).toMatchObject({ state: 'succeeded', rows_out: '10' });
    const guessed = await query(
      `SELECT count(*)::int AS n FROM iris_scored
        WHERE guess IS NOT NULL AND guess = procgate_models.iris_m(${FEATURES.join(', ')})`,
    );
    expect(guessed).toEqual([{ n: 10 }]);
  });

  // Once failed runs (the model was looked up only when the run started); now the EXECUTE fails, queuing nothing.
  it('refuses an unknown model at EXECUTE (42704), naming it and the parameter, and queues nothing', async () => {
    const before = await query<{ n: number }>('SELECT count(*)::int AS n FROM procgate.runs');
    for (const text of [
      "EXECUTE PROCEDURE evaluate(model_name => 'no_such_model', test_data => TABLE (iris)) INTO iris_confusion",
      "EXECUTE PROCEDURE score(model_name => 'no_such_model', input => TABLE (iris)) INTO never_scored WITH (segments = 2)",
    ]) {
      await expect(fixture.client.query(text)).rejects.toMatchObject({
        code: '42704',
        message: 'model "no_such_model" does not exist',
        detail: expect.stringMatching(/^Parameter "model_name" of type "(classifier\.test|model\.apply)" names no model/),
      });
    }
    expect(await query('SELECT count(*)::int AS n FROM procgate.runs')).toEqual(before);
  });

  it('refuses a model of another owner at EXECUTE as an unknown one', async () => {
    await fixture.client.query(`CREATE ROLE model_types_user LOGIN PASSWORD 'pw'`);
    await fixture.client.query('GRANT procgate_developer TO model_types_user');
    await fixture.client.query('GRANT SELECT ON iris TO model_types_user');
    await fixture.client.query('GRANT EXECUTE ON PROCEDURE evaluate_plain TO model_types_user');
    await fixture.client.query('GRANT EXECUTE ON PROCEDURE score TO model_types_user');
    await fixture.client.query('GRANT CREATE ON SCHEMA public TO model_types_user');
    await fixture.client.query('SET ROLE model_types_user');
    try {
      expect(await query("SELECT count(*)::int AS n FROM procgate.models WHERE name = 'iris_m'")).toEqual([{ n: 0 }]);
      for (const text of [
        "EXECUTE PROCEDURE evaluate_plain(model_name => 'iris_m', test_data => TABLE (iris))",
        "EXECUTE PROCEDURE score(model_name => 'iris_m', input => TABLE (iris)) INTO stolen_scores",
      ]) {
        await expect(fixture.client.query(text)).rejects.toMatchObject({
          code: '42704',
          message: 'model "iris_m" does not exist',
        });
      }
    } finally {
      await fixture.client.query('RESET ROLE');
    }
  });

  it('drop_model removes a model and its SQL function, for its owner only', async () => {
    await fixture.client.query('SET ROLE model_types_user');
    try {
      // Someone else's model is as unknown as a missing one.
      await expect(fixture.client.query("SELECT * FROM procgate.drop_model('iris_m')")).rejects.toMatchObject({
        code: '42704',
        message: 'model "iris_m" does not exist',
      });
    } finally {
      await fixture.client.query('RESET ROLE');
    }
    expect(await query("SELECT * FROM procgate.drop_model('iris_m')")).toEqual([
      { model: 'iris_m', sql_function: 'procgate_models.iris_m' },
    ]);
    expect(await query("SELECT count(*)::int AS n FROM procgate.models WHERE name = 'iris_m'")).toEqual([{ n: 0 }]);
    expect(
      await query("SELECT count(*)::int AS n FROM pg_proc WHERE pronamespace = 'procgate_models'::regnamespace AND proname = 'iris_m'"),
    ).toEqual([{ n: 0 }]);
    await expect(fixture.client.query("SELECT * FROM procgate.drop_model('iris_m')")).rejects.toMatchObject({ code: '42704' });
    expect(await query("SELECT * FROM procgate.drop_model('iris_m', if_exists => true)")).toEqual([]);
  });
});
