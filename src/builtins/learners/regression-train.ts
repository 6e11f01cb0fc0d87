import { RandomForestRegression } from 'ml-random-forest';
import MultivariateLinearRegression from 'ml-regression-multivariate-linear';
import { seededRandom, shuffledIndexes } from './random.js';
import { leafOf } from './classifier/tree-json.js';
import { saveModel, writeMetrics } from './model-store.js';
import { checkTrainingParameters, trainingParameters } from './training-parameters.js';
import { forestHyperparameters, forestOptions, forestParameters, growForest } from './forest.js';
import type { ProcedureType, TypeContext } from '../../engine/procedure-type.js';
import { TypeParameterError } from '../../engine/type-parameter-error.js';
import {
  readRegressionData,
  regressionMetrics,
  type RegressionDataset,
} from './regression/model.js';
import {
  createRegressionFunction,
  linearBody,
  type RegressionNodeJson,
  regressionForestBody,
} from './regression/sql-function.js';

/** The algorithms, by the name `algorithm` takes. */
export const REGRESSION_ALGORITHMS = ['linear', 'random_forest'] as const;
type Algorithm = (typeof REGRESSION_ALGORITHMS)[number];

interface Rows {
  x: number[][];
  y: number[];
}

interface Trained {
  readonly model: unknown;
  readonly predict: (rows: number[][]) => number[];
  /** What the model predicts for the test and training rows, when training already found out. */
  readonly predicted?: { readonly test: number[]; readonly train: number[] };
  readonly sqlFunction: string;
  readonly hyperparameters: Record<string, unknown>;
  /** For the results: a linear model's coefficients. */
  readonly extra?: Record<string, unknown>;
}

/**
 * `regression.train` (MLDB's name): fits a numeric `label` on the numeric
 * feature columns of the TABLE `training_data` — ordinary least squares
 * (ml-regression-multivariate-linear) or a random forest of regression
 * trees (ml-cart, loaded as ml-random-forest's RandomForestRegression) —
 * holds out `test_split` of the rows (shuffled by `seed`), records R²,
 * RMSE and MAE on them, and writes the model (type 'regression') to
 * procgate.models with its SQL function procgate_models.<model_name>
 * (features...) RETURNS double precision. Like classifier.train, segment
 * 0 reads all the rows, the model and function are written in the
 * completion transaction, and a forest's per-tree metrics go to
 * procgate.run_metrics as it grows.
 */
export const regressionTrain: ProcedureType = {
  name: 'regression.train',
  summary: 'trains a regression (linear, random forest) on a table; the model becomes a SQL function',
  parameters: [
    ...trainingParameters({
      trainingData: 'TABLE (select): numeric feature columns and the numeric label column',
      label: 'the numeric target column',
      numericLabel: true,
      algorithms: REGRESSION_ALGORITHMS,
      defaultAlgorithm: 'linear',
      heldOutFor: 'metrics',
    }),
    ...forestParameters('all', 'random_forest'),
  ],
  async run(context) {
    if (context.segment !== 0) return { results: { trained_by_segment: 0 }, idle: true };
    const params = context.params;
    const { algorithm, modelName, testSplit } = checkTrainingParameters(params, REGRESSION_ALGORITHMS);
    const input = context.inputs.find((staged) => staged.name === 'training_data') ?? context.inputs[0];
    if (input === undefined) throw new TypeParameterError('regression.train needs a TABLE argument "training_data"');

    const label = params['label'] as string;
    const data = await readRegressionData(context.pool, input, label);
    context.report({ kind: 'rows', read: data.x.length + data.skipped });
    if (data.x.length === 0) throw new Error('the training data has no rows (without NULLs)');
    context.report({ kind: 'progress', fraction: 0.05 });
    const seed = params['seed'] as number;
    const order = shuffledIndexes(data.x.length, seededRandom(seed));
    const testCount = Math.round(data.x.length * testSplit);
    const pick = (rows: number[]): Rows => ({
      x: rows.map((row) => data.x[row] as number[]),
      y: rows.map((row) => data.y[row] as number),
    });
    const test = pick(order.slice(0, testCount));
    const train = pick(order.slice(testCount));
    if (train.y.length === 0) throw new Error('no rows to train on');

    const trained =
      (algorithm as Algorithm) === 'linear'
        ? trainLinear(data, train, modelName)
        : await trainForest(context, data, train, test, modelName);
    const predicted = trained.predicted ?? { test: trained.predict(test.x), train: trained.predict(train.x) };
    const testMetrics = regressionMetrics(predicted.test, test.y);
    const trainMetrics = regressionMetrics(predicted.train, train.y);
    const metrics = {
      ...testMetrics,
      train_r2: trainMetrics.r2,
      train_rmse: trainMetrics.rmse,
      train_mae: trainMetrics.mae,
      test_rows: test.y.length,
      train_rows: train.y.length,
    };
    await writeMetrics(context, [
      { step: -1, metric: 'r2', value: testMetrics.r2 },
      { step: -1, metric: 'rmse', value: testMetrics.rmse },
      { step: -1, metric: 'mae', value: testMetrics.mae },
    ]);
    context.report({ kind: 'progress', fraction: 1 });
    const hyperparameters = { test_split: testSplit, seed, ...trained.hyperparameters };
    return {
      rowsIn: data.x.length + data.skipped,
      results: {
        model: modelName,
        algorithm,
        ...metrics,
        ...trained.extra,
        skipped_rows: data.skipped,
        sql_function: `procgate_models.${modelName}`,
      },
      load: async (client) => {
        await saveModel(client, context, {
          name: modelName,
          type: 'regression',
          algorithm,
          features: data.features,
          featureTypes: data.featureTypes,
          labelColumn: label,
          labelValues: [],
          hyperparameters,
          metrics,
          model: trained.model,
          sqlFunction: trained.sqlFunction,
        });
        // A model, no INTO rows.
        return 0;
      },
    };
  },
};

/** Ordinary least squares with an intercept. */
function trainLinear(data: RegressionDataset, train: Rows, modelName: string): Trained {
  const linear = new MultivariateLinearRegression(
    train.x,
    train.y.map((value) => [value]),
    { intercept: true, statistics: false },
  );
  const weights = linear.weights.map((row) => row[0] as number);
  const intercept = weights.pop() as number;
  if (![...weights, intercept].every(Number.isFinite)) {
    throw new Error('the linear fit has no finite solution (collinear or too few rows?)');
  }
  return {
    model: linear.toJSON(),
    predict: (rows) => rows.map((row) => (linear.predict(row) as number[])[0] as number),
    sqlFunction: createRegressionFunction(modelName, data.features, linearBody(weights, intercept)),
    hyperparameters: {},
    extra: { intercept, coefficients: Object.fromEntries(data.features.map((feature, i) => [feature, weights[i]])) },
  };
}

/**
 * A random forest (growForest: ml-cart regression trees in a thread).
 * While the thread grows the next tree, each tree's values on the test and
 * training rows are added up, and its test metrics and the forest's so far
 * written; the last sums over the count are the forest's predictions.
 * Loaded as an ml-random-forest RandomForestRegression (the mean of its
 * trees), which predicts other rows.
 */
async function trainForest(
  context: TypeContext,
  data: RegressionDataset,
  train: Rows,
  test: Rows,
  modelName: string,
): Promise<Trained> {
  const featureCount = data.features.length;
  const options = forestOptions(context.params, featureCount, train.x.length, featureCount);
  // The forest so far on the test and training rows: ml-random-forest's mean is the sum in tree order over the count.
  const testSums = new Float64Array(test.y.length);
  const trainSums = new Float64Array(train.y.length);
  type Root = RegressionNodeJson;
  const addTree = (root: Root, columns: readonly number[], rows: number[][], sums: Float64Array): number[] =>
    rows.map((row, i) => {
      const value = leafOf(root, columns, row).distribution as number;
      sums[i] = (sums[i] as number) + value;
      return value;
    });
  const mean = (sums: Float64Array): number[] => Array.from(sums, (sum) => sum / options.trees);
  const { estimators, indexes, model } = await growForest('regression', context, train, featureCount, options,
    async (json, { columns }, step) => {
      const root = (json as { root: RegressionNodeJson }).root;
      addTree(root, columns, train.x, trainSums);
      if (test.y.length === 0) return;
      const treeMetrics = regressionMetrics(addTree(root, columns, test.x, testSums), test.y);
      const forestMetrics = regressionMetrics(Array.from(testSums, (sum) => sum / step), test.y);
      await writeMetrics(context, [
        { step, metric: 'tree_r2', value: treeMetrics.r2 },
        { step, metric: 'tree_rmse', value: treeMetrics.rmse },
        { step, metric: 'forest_r2', value: forestMetrics.r2 },
        { step, metric: 'forest_rmse', value: forestMetrics.rmse },
        { step, metric: 'forest_mae', value: forestMetrics.mae },
      ]);
    });
  // Through JSON, as stored (an unlimited max_depth is stored as null).
  const forest = RandomForestRegression.load(JSON.parse(JSON.stringify(model)) as never);
  const roots = (estimators as { root: RegressionNodeJson }[]).map((estimator) => estimator.root);
  return {
    model,
    predict: (rows) => (rows.length === 0 ? [] : forest.predict(rows)),
    ...(estimators.length > 0 ? { predicted: { test: mean(testSums), train: mean(trainSums) } } : {}),
    sqlFunction: createRegressionFunction(modelName, data.features, regressionForestBody(roots, indexes)),
    hyperparameters: forestHyperparameters(options),
  };
}
