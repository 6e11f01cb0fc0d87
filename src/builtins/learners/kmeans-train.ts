import { type kmeans, kmeansGenerator } from 'ml-kmeans';
import type pg from 'pg';
import { executeAsRole } from '../../engine/as-caller.js';
import type { ResolvedOutput, StagedInput } from '../../engine/run-planner.js';
import { sqlFloat8, sqlIdentifier } from './sql-quoting.js';
import { kmeansFunction } from './kmeans/sql-function.js';
import { checkModelName, saveModel, writeMetrics } from './model-store.js';
import type { ProcedureType, TypeContext } from '../../engine/procedure-type.js';
import { TypeParameterError } from '../../engine/type-parameter-error.js';
import { nonNumericColumns, readStagedRows } from './staged-rows.js';
import { MODEL_NAME_PARAMETER } from './training-parameters.js';

/** The column of both INTO tables that holds the cluster number. */
const CLUSTER = 'cluster';

/** ml-kmeans' defaults, fixed here so the stored hyperparameters say what was used. */
const INITIALIZATION = 'kmeans++';
const TOLERANCE = 1e-6;

interface Points {
  readonly features: readonly string[];
  readonly featureTypes: readonly string[];
  readonly x: number[][];
  /** Rows left out because a feature was NULL. */
  readonly skipped: number;
}

/**
 * `kmeans.train` (MLDB's name): k-means clustering (ml-kmeans 7.0.1,
 * Lloyd's iterations from a seeded k-means++ start) of the TABLE
 * `training_data`'s numeric feature columns. The centroids go INTO the
 * first table (`cluster`, then one column per feature, by name); with
 * `assign`, every input row and its cluster go INTO the second. The model
 * row (type 'kmeans') goes to procgate.models and the function
 * procgate_models.<model_name>(features...) RETURNS int gives the nearest
 * centroid, as ml-kmeans' `nearest` does (ties to the lowest cluster).
 *
 * As classifier.train: segment 0 reads the whole staged input, the others
 * do nothing; the model, its function and the rows of both INTO tables are
 * written in the transaction that records the segment's end (fenced, so
 * exactly once); the inertia of each iteration goes to procgate.run_metrics
 * as training goes.
 */
export const kmeansTrain: ProcedureType = {
  name: 'kmeans.train',
  summary: 'k-means clustering of a table: centroids INTO a table, optional assignment, the model a SQL function',
  parameters: [
    {
      name: 'training_data',
      kind: 'table',
      required: true,
      description: 'TABLE (select): the rows to cluster',
      checks: { features: { numeric: true, namedBy: 'features' } },
    },
    {
      name: 'features',
      kind: 'text[]',
      required: false,
      description: 'the numeric feature columns (default: every column)',
      checks: { columnOf: 'training_data' },
    },
    { name: 'k', kind: 'integer', required: true, description: 'the number of clusters, at least 1 and at most the rows', checks: { range: { atLeast: 1 } } },
    { name: 'iterations', kind: 'integer', required: false, default: 100, description: 'the most iterations (it stops earlier when converged)', checks: { range: { atLeast: 1 } } },
    { name: 'seed', kind: 'integer', required: false, default: 1, description: 'the k-means++ start: same data and seed, same centroids' },
    MODEL_NAME_PARAMETER,
    { name: 'assign', kind: 'boolean', required: false, default: false, description: 'write each input row and its cluster INTO the second table' },
  ],
  async run(context) {
    if (context.segment !== 0) return { results: { trained_by_segment: 0 }, idle: true };
    const params = context.params;
    const k = params['k'] as number;
    const iterations = params['iterations'] as number;
    const seed = params['seed'] as number;
    const assign = params['assign'] as boolean;
    const modelName = checkModelName(params['model_name']);
    if (k < 1) throw new TypeParameterError(`k must be at least 1 (it is ${String(k)})`);
    if (iterations < 1) throw new TypeParameterError(`iterations must be at least 1 (it is ${String(iterations)})`);
    const input = context.inputs.find((staged) => staged.name === 'training_data') ?? context.inputs[0];
    if (input === undefined) throw new TypeParameterError('kmeans.train needs a TABLE argument "training_data"');
    const features = featureColumns(input, params['features'] as string[] | undefined);
    const centroidsTable = context.outputs[0];
    if (centroidsTable === undefined) {
      throw new TypeParameterError('kmeans.train needs an INTO table for the centroids (and a second one with assign)');
    }
    checkColumns(centroidsTable, [CLUSTER, ...features.map((column) => column.name)], 'centroids');
    const assignTable = assign ? context.outputs[1] : undefined;
    if (assign) {
      if (assignTable === undefined) throw new TypeParameterError('assign => true needs a second INTO table for the rows and their clusters');
      checkColumns(assignTable, [CLUSTER], 'assignment');
    }

    const points = await readPoints(context.pool, input, features);
    context.report({ kind: 'rows', read: points.x.length + points.skipped });
    if (k > points.x.length) {
      throw new TypeParameterError(`k (${String(k)}) is more than the rows to cluster (${String(points.x.length)})`);
    }
    context.report({ kind: 'progress', fraction: 0.05 });

    let last: ReturnType<typeof kmeans> | undefined;
    const options = { seed, maxIterations: iterations, initialization: INITIALIZATION, tolerance: TOLERANCE } as const;
    for (const step of kmeansGenerator(points.x, k, options)) {
      if (context.signal.aborted) throw new Error('killed');
      last = step;
      // The iteration's assignment against its new centroids: the within-cluster sum of squares.
      const inertia = points.x.reduce(
        (sum, row, i) => sum + squaredDistance(row, step.centroids[step.clusters[i] as number] as number[]),
        0,
      );
      await writeMetrics(context, [{ step: step.iterations, metric: 'inertia', value: inertia }]);
      context.report({ kind: 'progress', fraction: 0.05 + (0.9 * step.iterations) / iterations });
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (last === undefined) throw new Error('k-means ran no iteration');
    const centroids = last.centroids;
    // The model's prediction: ml-kmeans' nearest centroid (squared distance, ties to the lowest cluster).
    const clusters = last.nearest(points.x);
    const sizes = centroids.map(() => 0);
    let inertia = 0;
    clusters.forEach((cluster, i) => {
      sizes[cluster] = (sizes[cluster] as number) + 1;
      inertia += squaredDistance(points.x[i] as number[], centroids[cluster] as number[]);
    });
    await writeMetrics(context, [{ step: -1, metric: 'inertia', value: inertia }]);
    context.report({ kind: 'progress', fraction: 1 });

    const metrics = { inertia, iterations: last.iterations, converged: last.converged, cluster_sizes: sizes };
    const hyperparameters = { k, iterations, seed, initialization: INITIALIZATION, tolerance: TOLERANCE };
    return {
      rowsIn: points.x.length + points.skipped,
      results: {
        model: modelName,
        k,
        iterations: last.iterations,
        converged: last.converged,
        inertia,
        cluster_sizes: sizes,
        rows: points.x.length,
        skipped_rows: points.skipped,
        features: points.features,
        sql_function: `procgate_models.${modelName}`,
      },
      load: async (client) => {
        await saveModel(client, context, {
          name: modelName,
          type: 'kmeans',
          algorithm: 'kmeans',
          features: points.features,
          featureTypes: points.featureTypes,
          labelColumn: null,
          labelValues: centroids.map((_, cluster) => String(cluster)),
          hyperparameters,
          metrics,
          model: { centroids },
          sqlFunction: kmeansFunction(modelName, points.features, centroids),
        });
        let written = await writeCentroids(client, context.role, centroidsTable, points.features, centroids);
        if (assignTable !== undefined) {
          written += await writeAssignment(client, context, input, assignTable, modelName, points.features);
        }
        return written;
      },
    };
  },
};

/** The feature columns: those named by `features`, or every column of the input; numeric, all of them. */
function featureColumns(input: StagedInput, named: readonly string[] | undefined): StagedInput['columns'] {
  const columns = input.columns.filter((column) => column.name !== 'procgate_segment');
  let features = columns;
  if (named !== undefined) {
    if (named.length === 0) throw new TypeParameterError('features names no column');
    features = named.map((name) => {
      const column = columns.find((candidate) => candidate.name === name);
      if (column === undefined) {
        const names = columns.map((candidate) => candidate.name).join(', ');
        throw new TypeParameterError(`the training data has no feature column "${name}" (its columns: ${names})`);
      }
      return column;
    });
    if (new Set(named).size !== named.length) throw new TypeParameterError('features names a column twice');
  }
  if (features.length === 0) throw new TypeParameterError('the training data has no columns');
  const bad = nonNumericColumns(features);
  if (bad !== '') {
    throw new TypeParameterError(
      `feature columns must be numeric: ${bad} (cast them, or leave them out with features => ARRAY[...])`,
    );
  }
  return features;
}

/** An INTO table must have these columns (by name); its other columns are left to their defaults. */
function checkColumns(output: ResolvedOutput, needed: readonly string[], what: string): void {
  const missing = needed.filter((name) => !output.columns.some((column) => column.name === name));
  if (missing.length > 0) {
    throw new TypeParameterError(
      `the ${what} INTO table "${output.name}" has no column ${missing.map((name) => `"${name}"`).join(', ')} ` +
        `(it needs "${CLUSTER}"${what === 'centroids' ? ' and one column per feature' : ''}; create it first, or give the procedure a RETURNS TABLE)`,
    );
  }
}

/** The staged rows' features as doubles, in a canonical order (the query's row order does not change the model). */
async function readPoints(pool: pg.Pool, input: StagedInput, features: StagedInput['columns']): Promise<Points> {
  const { x, skipped } = await readStagedRows(pool, {
    from: `procgate_staging.${sqlIdentifier(input.table)}`,
    features: features.map((column) => sqlIdentifier(column.name)),
  });
  if (x.length === 0) throw new TypeParameterError('the training data has no rows (without NULLs)');
  return {
    features: features.map((column) => column.name),
    featureTypes: features.map((column) => column.type),
    x,
    skipped,
  };
}

/** ml-distance-euclidean's squaredEuclidean, the distance ml-kmeans uses: the same sum in the same order. */
function squaredDistance(p: readonly number[], q: readonly number[]): number {
  let d = 0;
  for (let i = 0; i < p.length; i += 1) {
    const difference = (p[i] as number) - (q[i] as number);
    d += difference * difference;
  }
  return d;
}

/** The centroids INTO the first table as the caller: `cluster` and each feature, by name. */
async function writeCentroids(
  client: pg.PoolClient,
  role: string,
  output: ResolvedOutput,
  features: readonly string[],
  centroids: readonly (readonly number[])[],
): Promise<number> {
  const columns = [CLUSTER, ...features].map(sqlIdentifier).join(', ');
  const rows = centroids.map((centroid, cluster) => `(${String(cluster)}, ${centroid.map(sqlFloat8).join(', ')})`);
  return executeAsRole(client, role, `INSERT INTO ${output.table} (${columns}) VALUES ${rows.join(', ')}`);
}

/**
 * Every staged row INTO the second table as the caller, its columns by
 * name (input columns the table lacks are left out) and `cluster` from the
 * model's function (NULL when a feature is NULL).
 */
async function writeAssignment(
  client: pg.PoolClient,
  context: TypeContext,
  input: StagedInput,
  output: ResolvedOutput,
  modelName: string,
  features: readonly string[],
): Promise<number> {
  const staging = `procgate_staging.${sqlIdentifier(input.table)}`;
  // The caller reads the staged rows through a function of the engine's, as transform does: no grant on staging.
  await client.query(
    `CREATE FUNCTION pg_temp.procgate_kmeans_rows() RETURNS SETOF ${staging}
     LANGUAGE sql STABLE SECURITY DEFINER AS $fn$ SELECT * FROM ${staging} $fn$`,
  );
  const copied = input.columns
    .map((column) => column.name)
    .filter((name) => name !== CLUSTER && name !== 'procgate_segment' && output.columns.some((column) => column.name === name));
  const into = [...copied, CLUSTER].map(sqlIdentifier).join(', ');
  const cluster = `procgate_models.${sqlIdentifier(modelName)}(${features.map((name) => `s.${sqlIdentifier(name)}`).join(', ')})`;
  const from = [...copied.map((name) => `s.${sqlIdentifier(name)}`), cluster].join(', ');
  const rows = await executeAsRole(
    client,
    context.role,
    `INSERT INTO ${output.table} (${into}) SELECT ${from} FROM pg_temp.procgate_kmeans_rows() AS s`,
  );
  await client.query('DROP FUNCTION pg_temp.procgate_kmeans_rows()');
  return rows;
}

