import { DecisionTreeClassifier } from 'ml-cart';
import { RandomForestClassifier } from 'ml-random-forest';
import type pg from 'pg';
import type { StagedInput } from '../../engine/run-planner.js';
import { seededRandom, shuffledIndexes } from './random.js';
import { forestHyperparameters, forestOptions, forestParameters, growForest, treeOptions } from './forest.js';
import { predictScores, scoreModelBody, trainLogistic, trainNaiveBayes } from './classifier/score-models.js';
import { createFunction, decisionTreeBody, forestBody } from './classifier/sql-function.js';
import { sqlIdentifier } from './sql-quoting.js';
import { type TreeNodeJson, treeClasses } from './classifier/tree-json.js';
import { saveModel, writeMetrics } from './model-store.js';
import { checkTrainingParameters, trainingParameters } from './training-parameters.js';
import { nonNumericColumns, readStagedRows } from './staged-rows.js';
import type { ProcedureType, TypeContext } from '../../engine/procedure-type.js';
import { TypeParameterError } from '../../engine/type-parameter-error.js';
import { TreeThread } from './tree-thread.js';
import { accuracyOf, VoteTally } from './classifier/vote-tally.js';

/** The algorithms, by the name `algorithm` takes. */
export const ALGORITHMS = ['random_forest', 'decision_tree', 'logistic_regression', 'naive_bayes'] as const;
type Algorithm = (typeof ALGORITHMS)[number];

interface Dataset {
  readonly features: readonly string[];
  readonly featureTypes: readonly string[];
  readonly labels: readonly string[];
  readonly x: number[][];
  /** Index into `labels` per row. */
  readonly y: number[];
  /** Rows left out because their label or a feature was NULL. */
  readonly skipped: number;
}

interface Trained {
  readonly model: unknown;
  readonly predict: (rows: number[][]) => number[];
  /** What the model predicts for the test and training rows, when training already found out. */
  readonly predicted?: { readonly test: number[]; readonly train: number[] };
  /** The CREATE FUNCTION statement, or undefined for an algorithm without a SQL form. */
  readonly sqlFunction?: string;
  readonly hyperparameters: Record<string, unknown>;
}

/**
 * `classifier.train` (MLDB's name): trains a classifier on the TABLE
 * `training_data` (numeric feature columns, any scalar `label` column),
 * holds out `test_split` of the rows (shuffled by `seed`), records the
 * accuracy on them, and writes the model to procgate.models and, for trees
 * and forests, the SQL function procgate_models.<model_name>(features...).
 *
 * Training needs all the rows at once: segment 0 reads the whole staged
 * input (not a share) and the other segments of a distributed run do
 * nothing. The model row and its function are written in the transaction
 * that records the segment's end, fenced by (worker, attempt): a segment
 * that lost its lease writes neither, so a model is written exactly once
 * per successful run. Per-step metrics (per tree of a forest) go to
 * procgate.run_metrics as training goes, keyed by (run, step, metric): a
 * retried attempt overwrites the same rows with the same values.
 */
export const classifierTrain: ProcedureType = {
  name: 'classifier.train',
  summary:
    'trains a classifier (random forest, decision tree, logistic regression, naive Bayes) on a table; the model becomes a SQL function',
  parameters: [
    ...trainingParameters({
      trainingData: 'TABLE (select): feature columns and the label column',
      label: 'the label column',
      numericLabel: false,
      algorithms: ALGORITHMS,
      defaultAlgorithm: 'random_forest',
      heldOutFor: 'accuracy',
    }),
    ...forestParameters('ceil(sqrt(features))', 'random_forest, decision_tree'),
    { name: 'epochs', kind: 'integer', required: false, default: 300, description: 'logistic_regression: passes of gradient descent over the training rows', checks: { range: { atLeast: 1 } } },
    { name: 'learning_rate', kind: 'numeric', required: false, default: 0.5, description: 'logistic_regression: the gradient step (features are standardised)', checks: { range: { greaterThan: 0 } } },
    { name: 'l2', kind: 'numeric', required: false, default: 0.0001, description: 'logistic_regression: L2 penalty on the weights', checks: { range: { atLeast: 0 } } },
    { name: 'var_smoothing', kind: 'numeric', required: false, default: 1e-9, description: 'naive_bayes: added to every variance, times the largest feature variance', checks: { range: { atLeast: 0 } } },
  ],
  async run(context) {
    if (context.segment !== 0) return { results: { trained_by_segment: 0 }, idle: true };
    const params = context.params;
    const { algorithm, modelName, testSplit } = checkTrainingParameters(params, ALGORITHMS);
    const input = context.inputs.find((staged) => staged.name === 'training_data') ?? context.inputs[0];
    if (input === undefined) throw new TypeParameterError('classifier.train needs a TABLE argument "training_data"');

    const data = await readDataset(context.pool, input, params['label'] as string);
    context.report({ kind: 'rows', read: data.x.length + data.skipped });
    context.report({ kind: 'progress', fraction: 0.05 });
    const seed = params['seed'] as number;
    const order = shuffledIndexes(data.x.length, seededRandom(seed));
    const testCount = Math.round(data.x.length * testSplit);
    const testRows = order.slice(0, testCount);
    const trainRows = order.slice(testCount);
    if (trainRows.length === 0) throw new Error('no rows to train on');
    const pick = <T>(rows: number[], values: readonly T[]): T[] => rows.map((row) => values[row] as T);
    const train = { x: pick(trainRows, data.x), y: pick(trainRows, data.y) };
    const test = { x: pick(testRows, data.x), y: pick(testRows, data.y) };

    const trained = await trainModel(context, algorithm as Algorithm, data, train, test, modelName);
    const predicted = trained.predicted ?? { test: trained.predict(test.x), train: trained.predict(train.x) };
    const accuracy = test.y.length === 0 ? null : accuracyOf(predicted.test, test.y);
    const trainAccuracy = accuracyOf(predicted.train, train.y);
    const metrics = { accuracy, train_accuracy: trainAccuracy, test_rows: test.y.length, train_rows: train.y.length };
    await writeMetrics(context, [
      { step: -1, metric: 'accuracy', value: accuracy },
      { step: -1, metric: 'train_accuracy', value: trainAccuracy },
    ]);
    context.report({ kind: 'progress', fraction: 1 });
    const hyperparameters = { test_split: testSplit, seed, ...trained.hyperparameters };
    return {
      rowsIn: data.x.length + data.skipped,
      results: {
        model: modelName,
        algorithm,
        ...metrics,
        skipped_rows: data.skipped,
        labels: data.labels,
        ...(trained.sqlFunction === undefined ? {} : { sql_function: `procgate_models.${modelName}` }),
      },
      load: async (client) => {
        await saveModel(client, context, {
          name: modelName,
          type: 'classifier',
          algorithm,
          features: data.features,
          featureTypes: data.featureTypes,
          labelColumn: context.params['label'] as string,
          labelValues: data.labels,
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

/** The staged rows, all of them, in canonical order: features as doubles, labels as text; NULLs are skipped. */
async function readDataset(pool: pg.Pool, input: StagedInput, label: string): Promise<Dataset> {
  const labelColumn = input.columns.find((column) => column.name === label);
  if (labelColumn === undefined) {
    const names = input.columns.map((column) => column.name).join(', ');
    throw new TypeParameterError(`the training data has no label column "${label}" (its columns: ${names})`);
  }
  const features = input.columns.filter((column) => column.name !== label);
  if (features.length === 0) throw new TypeParameterError('the training data has no feature columns besides the label');
  const bad = nonNumericColumns(features);
  if (bad !== '') {
    throw new TypeParameterError(`feature columns must be numeric: ${bad} (encode or cast them in the TABLE query)`);
  }
  const { labels: raw, x, skipped } = await readStagedRows(pool, {
    from: `procgate_staging.${sqlIdentifier(input.table)}`,
    label: { column: sqlIdentifier(label), as: 'text' },
    features: features.map((column) => sqlIdentifier(column.name)),
  });
  if (x.length === 0) throw new Error('the training data has no rows (without NULLs)');
  const labels = [...new Set(raw as string[])].sort();
  const index = new Map(labels.map((value, i) => [value, i]));
  return {
    features: features.map((column) => column.name),
    featureTypes: features.map((column) => column.type),
    labels,
    x,
    y: raw.map((value) => index.get(value as string) as number),
    skipped,
  };
}

async function trainModel(
  context: TypeContext,
  algorithm: Algorithm,
  data: Dataset,
  train: { x: number[][]; y: number[] },
  test: { x: number[][]; y: number[] },
  modelName: string,
): Promise<Trained> {
  const params = context.params;
  switch (algorithm) {
    case 'decision_tree': {
      const options = treeOptions(params);
      const thread = new TreeThread('classifier', context.signal);
      let model: { root: TreeNodeJson };
      try {
        model = (await thread.train(train.x, train.y, options)) as { root: TreeNodeJson };
      } finally {
        await thread.close();
      }
      const tree = DecisionTreeClassifier.load(model);
      return {
        model,
        predict: (rows) => tree.predict(rows),
        sqlFunction: createFunction(modelName, data.features, decisionTreeBody(model.root, data.labels)),
        hyperparameters: { min_samples: options.minNumSamples, max_depth: params['max_depth'] ?? null },
      };
    }
    case 'random_forest':
      return trainForest(context, data, train, test, modelName);
    case 'logistic_regression':
      return trainLogisticRegression(context, data, train, test, modelName);
    case 'naive_bayes': {
      const varSmoothing = params['var_smoothing'] as number;
      if (!(varSmoothing >= 0)) throw new TypeParameterError('var_smoothing must be at least 0');
      const model = trainNaiveBayes(train.x, train.y, data.labels.length, varSmoothing);
      return {
        model,
        predict: (rows) => predictScores(model, rows),
        sqlFunction: createFunction(modelName, data.features, scoreModelBody(model, data.labels), 'plpgsql'),
        hyperparameters: { var_smoothing: varSmoothing },
      };
    }
  }
}

/**
 * Logistic regression, epoch by epoch: every tenth epoch (and the last)
 * writes the training loss and the test accuracy so far to run_metrics
 * and lets the event loop breathe.
 */
async function trainLogisticRegression(
  context: TypeContext,
  data: Dataset,
  train: { x: number[][]; y: number[] },
  test: { x: number[][]; y: number[] },
  modelName: string,
): Promise<Trained> {
  const params = context.params;
  const options = {
    epochs: params['epochs'] as number,
    learningRate: params['learning_rate'] as number,
    l2: params['l2'] as number,
  };
  if (!(options.epochs >= 1)) throw new TypeParameterError('epochs must be at least 1');
  if (!(options.learningRate > 0)) throw new TypeParameterError('learning_rate must be greater than 0');
  if (!(options.l2 >= 0)) throw new TypeParameterError('l2 must be at least 0');
  const model = await trainLogistic(train.x, train.y, data.labels.length, options, async (epoch, loss, soFar) => {
    if (context.signal.aborted) throw new Error('killed');
    if (epoch % 10 !== 0 && epoch !== options.epochs) return;
    const metrics: { step: number; metric: string; value: number | null }[] = [{ step: epoch, metric: 'loss', value: loss }];
    if (test.y.length > 0) {
      metrics.push({ step: epoch, metric: 'test_accuracy', value: accuracyOf(predictScores(soFar(), test.x), test.y) });
    }
    await writeMetrics(context, metrics);
    context.report({ kind: 'progress', fraction: 0.05 + (0.9 * epoch) / options.epochs });
    await new Promise((resolve) => setImmediate(resolve));
  });
  return {
    model,
    predict: (rows) => predictScores(model, rows),
    sqlFunction: createFunction(modelName, data.features, scoreModelBody(model, data.labels), 'plpgsql'),
    hyperparameters: { epochs: options.epochs, learning_rate: options.learningRate, l2: options.l2 },
  };
}

/**
 * A random forest (growForest: ml-cart trees in a thread). While the
 * thread grows the next tree, each tree votes on the test and training
 * rows (VoteTally), and its test accuracy and the forest's so far are
 * written; the last votes are the forest's predictions, so the run needs
 * no pass over the rows after the last tree. Loaded as an ml-random-forest
 * model, which predicts other rows.
 */
async function trainForest(
  context: TypeContext,
  data: Dataset,
  train: { x: number[][]; y: number[] },
  test: { x: number[][]; y: number[] },
  modelName: string,
): Promise<Trained> {
  const featureCount = data.features.length;
  const options = forestOptions(context.params, featureCount, train.x.length, Math.ceil(Math.sqrt(featureCount)));
  // The forest so far on the test and training rows, tree by tree, while the thread grows the next one.
  const testVotes = new VoteTally(test.y.length, data.labels.length);
  const trainVotes = new VoteTally(train.y.length, data.labels.length);
  const { estimators, indexes, model } = await growForest('classifier', context, train, featureCount, options,
    async (json, { columns }, step) => {
      const root = (json as { root: TreeNodeJson }).root;
      trainVotes.add(treeClasses(root, columns, train.x));
      if (test.y.length === 0) return;
      const predicted = treeClasses(root, columns, test.x);
      testVotes.add(predicted);
      await writeMetrics(context, [
        { step, metric: 'tree_accuracy', value: accuracyOf(predicted, test.y) },
        { step, metric: 'forest_accuracy', value: accuracyOf(testVotes.leaders, test.y) },
      ]);
    });
  // Through JSON, as stored (an unlimited max_depth is stored as null).
  const forest = RandomForestClassifier.load(JSON.parse(JSON.stringify(model)) as never);
  const roots = (estimators as { root: TreeNodeJson }[]).map((estimator) => estimator.root);
  return {
    model,
    predict: (rows) => forest.predict(rows) as number[],
    ...(estimators.length > 0 ? { predicted: { test: testVotes.leaders, train: trainVotes.leaders } } : {}),
    sqlFunction: createFunction(modelName, data.features, forestBody(roots, indexes, data.labels), 'plpgsql'),
    hyperparameters: forestHyperparameters(options),
  };
}
