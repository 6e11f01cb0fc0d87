import { kmeans } from 'ml-kmeans';
import { describe, expect, it } from 'vitest';
import { kmeansFunction } from '../../src/builtins/learners/kmeans/sql-function.js';
import { useEngine } from '../support/engine-fixture.js';
import { IRIS_FEATURES, irisRows, loadIris } from '../support/iris.js';
import { useProxiedDatabase } from '../support/test-database.js';

const t = useProxiedDatabase('engine_kmeans', { statements: true });

interface RunRow {
  state: string;
  error: string | null;
  results: Record<string, Record<string, unknown>> | null;
}

const fixture = useEngine<RunRow>(t);
const { execute, finished, query } = fixture;

const FEATURES = IRIS_FEATURES;
const FEATURE_LIST = FEATURES.join(', ');
const CENTROID_COLUMNS = `cluster int, ${FEATURES.map((f) => `${f} double precision`).join(', ')}`;

/** ml-kmeans' nearest centroid, as its KMeansResult.nearest computes it. */
function jsPredictions(centroids: number[][]): number[] {
  const x = irisRows().map((row) => row.features);
  // One step from the given centroids: the step's `clusters` are each row's nearest of them.
  return [...kmeans(x, centroids.length, { initialization: centroids, maxIterations: 1 }).clusters];
}

async function centroidsOf(table: string): Promise<number[][]> {
  const rows = await query<Record<string, number>>(`SELECT * FROM ${table} ORDER BY cluster`);
  rows.forEach((row, i) => expect(row['cluster']).toBe(i));
  return rows.map((row) => FEATURES.map((f) => Number(row[f])));
}

describe("TYPE 'kmeans.train'", () => {
  it('clusters iris into three; centroids INTO the table, the model row, per-iteration inertia', async () => {
    await loadIris(fixture.client);
    await fixture.client.query(`CREATE PROCEDURE cluster_iris TYPE 'kmeans.train' RETURNS TABLE (${CENTROID_COLUMNS})`);
    const runId = await execute(
      `EXECUTE PROCEDURE cluster_iris(training_data => TABLE (SELECT ${FEATURE_LIST} FROM iris), k => 3, model_name => 'iris_km')
         INTO iris_centroids`,
    );
    const run = await finished(runId);
    expect(run).toMatchObject({ state: 'succeeded', error: null });
    const results = run.results?.['0'] ?? {};
    expect(results).toMatchObject({ model: 'iris_km', k: 3, rows: 150, skipped_rows: 0, converged: true, features: FEATURES });
    // The known k-means of iris: setosa alone (50), the others split about 62 / 38 (inertia about 78.9).
    const sizes = [...(results['cluster_sizes'] as number[])].sort((x, y) => x - y);
    expect(sizes[1]).toBe(50);
    expect(sizes[0]).toBeGreaterThan(35);
    expect(sizes[0]! + sizes[2]!).toBe(100);
    expect(results['inertia']).toBeGreaterThan(78);
    expect(results['inertia']).toBeLessThan(80);

    const [model] = await query<{
      type: string;
      label_column: string | null;
      label_values: string[];
      feature_names: string[];
      model: { centroids: number[][] };
      metrics: { inertia: number };
      sql_function: string;
      created_by_run: string;
    }>('SELECT * FROM procgate.models WHERE name = $1', ['iris_km']);
    expect(model).toMatchObject({
      type: 'kmeans',
      label_column: null,
      label_values: ['0', '1', '2'],
      feature_names: FEATURES,
      sql_function: 'procgate_models.iris_km',
      created_by_run: runId,
    });
    expect(model?.metrics.inertia).toBe(results['inertia']);
    // The centroids table holds exactly the model's centroids.
    expect(await centroidsOf('iris_centroids')).toEqual(model?.model.centroids);

    // The same library called directly on the rows in the type's canonical order gives the same centroids.
    const sorted = irisRows()
      .map((row) => row.features)
      .sort((a, b) => a.reduce((order, value, i) => order || value - (b[i] as number), 0));
    expect(kmeans(sorted, 3, { seed: 1 }).centroids).toEqual(model?.model.centroids);

    const metrics = await query<{ step: number; value: number }>(
      "SELECT step, value FROM procgate.run_metrics WHERE run_id = $1 AND metric = 'inertia' ORDER BY step",
      [runId],
    );
    expect(metrics.map((m) => m.step)).toEqual([-1, ...Array.from({ length: results['iterations'] as number }, (_, i) => i + 1)]);
    expect(metrics[0]?.value).toBe(results['inertia']);
    const steps = metrics.slice(1).map((m) => m.value);
    steps.slice(1).forEach((value, i) => expect(value).toBeLessThanOrEqual(steps[i] as number));
  });

  it('its SQL function predicts what the JavaScript model does on all 150 rows', async () => {
    const [model] = await query<{ model: { centroids: number[][] } }>("SELECT model FROM procgate.models WHERE name = 'iris_km'");
    const sql = await query<{ c: number }>(`SELECT procgate_models.iris_km(${FEATURE_LIST}) AS c FROM iris ORDER BY id`);
    expect(sql.map((row) => row.c)).toEqual(jsPredictions(model?.model.centroids ?? []));
    // Setosa is one cluster of its own.
    const setosa = await query<{ n: number }>(
      `SELECT count(DISTINCT procgate_models.iris_km(${FEATURE_LIST}))::int AS n FROM iris WHERE species = 'setosa'`,
    );
    expect(setosa).toEqual([{ n: 1 }]);
  });

  it('breaks ties to the lowest cluster, as ml-kmeans does', async () => {
    // Cluster 1 and 2 are the same point; (0.5, 0.5) is as far from 0 as from 1 and 2.
    const centroids = [[0, 0], [1, 1], [1, 1], [0.1, 3]];
    await fixture.client.query(kmeansFunction('tie_test', ['a', 'b'], centroids));
    const points = [[0.5, 0.5], [1, 1], [0.9, 0.9], [0.05, 1.5], [-1, -1], [0.3, 0.1]];
    const sql: number[] = [];
    for (const [a, b] of points) {
      const [row] = await query<{ c: number }>('SELECT procgate_models.tie_test($1, $2) AS c', [a, b]);
      sql.push(row?.c ?? -1);
    }
    const js = kmeans(points, centroids.length, { initialization: centroids, maxIterations: 1 }).clusters;
    expect(sql).toEqual(js);
    expect(sql.slice(0, 3)).toEqual([0, 1, 1]);
  });

  it('gives the same centroids for the same seed whatever the row order, replacing the model', async () => {
    const before = await centroidsOf('iris_centroids');
    const again = await finished(
      await execute(
        `EXECUTE PROCEDURE cluster_iris(training_data => TABLE (SELECT ${FEATURE_LIST} FROM iris ORDER BY id DESC),
           k => 3, model_name => 'iris_km', seed => 1) INTO iris_centroids_again`,
      ),
    );
    expect(again).toMatchObject({ state: 'succeeded', error: null });
    expect(await centroidsOf('iris_centroids_again')).toEqual(before);
    expect(await query("SELECT count(*)::int AS n FROM procgate.models WHERE name = 'iris_km'")).toEqual([{ n: 1 }]);
  });

  it('with assign, writes every input row and its cluster INTO the second table (columns by name)', async () => {
    await fixture.client.query(`CREATE TABLE km_centroids (${CENTROID_COLUMNS}, note text)`);
    await fixture.client.query('CREATE TABLE km_assigned (id int, species text, cluster int)');
    await fixture.client.query("CREATE PROCEDURE cluster_assign TYPE 'kmeans.train'");
    const run = await finished(
      await execute(
        `EXECUTE PROCEDURE cluster_assign(training_data => TABLE (SELECT id, species, ${FEATURE_LIST} FROM iris),
           features => ARRAY['petal_length', 'petal_width'], k => 2, seed => 5, iterations => 50,
           model_name => 'iris_petals', assign => true) INTO km_centroids, km_assigned`,
      ),
    );
    expect(run).toMatchObject({ state: 'succeeded', error: null });
    expect(run.results?.['0']).toMatchObject({ k: 2, features: ['petal_length', 'petal_width'] });
    expect(await query('SELECT cluster, note FROM km_centroids ORDER BY cluster')).toEqual([
      { cluster: 0, note: null },
      { cluster: 1, note: null },
    ]);
    const assigned = await query<{ id: number; species: string; cluster: number; f: number }>(
      `SELECT a.id, a.species, a.cluster, procgate_models.iris_petals(i.petal_length, i.petal_width) AS f
         FROM km_assigned a JOIN iris i USING (id) ORDER BY a.id`,
    );
    expect(assigned).toHaveLength(150);
    assigned.forEach((row) => expect(row.cluster).toBe(row.f));
    expect(assigned.map((row) => row.species)).toEqual(irisRows().map((row) => row.species));
    const sizes = run.results?.['0']?.['cluster_sizes'] as number[];
    for (const [cluster, size] of sizes.entries()) {
      expect(assigned.filter((row) => row.cluster === cluster)).toHaveLength(size);
    }
    // Setosa's petals are a cluster of their own.
    const setosa = await query("SELECT count(DISTINCT cluster)::int AS n FROM km_assigned WHERE species = 'setosa'");
    expect(setosa).toEqual([{ n: 1 }]);
  });

  it('fails on k above the rows and a centroids table without cluster; k < 1 and a non-numeric feature fail the EXECUTE', async () => {
    const fails = async (statement: string, error: RegExp): Promise<void> => {
      const run = await finished(await execute(statement));
      expect(run.state).toBe('failed');
      expect(run.error).toMatch(error);
    };
    // Once a failed run; now the EXECUTE fails (22023).
    await expect(
      fixture.client.query(
        `EXECUTE PROCEDURE cluster_iris(training_data => TABLE (SELECT ${FEATURE_LIST} FROM iris), k => 0, model_name => 'bad')
           INTO bad_centroids`,
      ),
    ).rejects.toMatchObject({
      code: '22023',
      message: 'invalid value 0 for parameter "k" of type "kmeans.train"',
      detail: 'It must be at least 1.',
    });
    await fails(
      `EXECUTE PROCEDURE cluster_iris(training_data => TABLE (SELECT ${FEATURE_LIST} FROM iris), k => 151, model_name => 'bad')
         INTO bad_centroids`,
      /k \(151\) is more than the rows to cluster \(150\)/,
    );
    // Once a failed run; now the EXECUTE fails (42804), naming every non-numeric feature.
    await expect(
      fixture.client.query(
        `EXECUTE PROCEDURE cluster_iris(training_data => TABLE (SELECT ${FEATURE_LIST}, species, species AS kind FROM iris),
           k => 3, model_name => 'bad') INTO bad_centroids`,
      ),
    ).rejects.toMatchObject({
      code: '42804',
      message:
        'feature columns of TABLE argument "training_data" of type "kmeans.train" must be numeric: "species" (text), "kind" (text)',
    });
    // Without RETURNS TABLE the engine creates a missing INTO table with the input's columns: no "cluster".
    await fails(
      `EXECUTE PROCEDURE cluster_assign(training_data => TABLE (SELECT ${FEATURE_LIST} FROM iris), k => 3, model_name => 'bad')
         INTO shaped_like_input`,
      /the centroids INTO table "shaped_like_input" has no column "cluster"/,
    );
    await fails(
      `EXECUTE PROCEDURE cluster_iris(training_data => TABLE (SELECT ${FEATURE_LIST} FROM iris), k => 3, model_name => 'bad',
         assign => true) INTO bad_centroids`,
      /assign => true needs a second INTO table/,
    );
    expect(await query("SELECT count(*)::int AS n FROM procgate.models WHERE name = 'bad'")).toEqual([{ n: 0 }]);
    expect(await query('SELECT count(*)::int AS n FROM bad_centroids')).toEqual([{ n: 0 }]);
  });
});
