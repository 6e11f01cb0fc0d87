import { seededRandom, shuffledIndexes } from './random.js';
import type { TypeContext, TypeParameter } from '../../engine/procedure-type.js';
import { type TreeOptions, TreeThread } from './tree-thread.js';

/**
 * The parameters of a random forest, as classifier.train and
 * regression.train take them: `maxFeaturesDefault` says what max_features
 * defaults to, `treeAlgorithms` which algorithms take max_depth and min_samples.
 */
export function forestParameters(maxFeaturesDefault: string, treeAlgorithms: string): TypeParameter[] {
  const parameters: TypeParameter[] = [
    { name: 'n_estimators', kind: 'integer', required: false, default: 50, description: 'random_forest: the number of trees' },
    { name: 'max_features', kind: 'integer', required: false, description: `random_forest: features per tree (default: ${maxFeaturesDefault})` },
    { name: 'max_depth', kind: 'integer', required: false, description: `${treeAlgorithms}: the deepest a tree goes (default: unlimited)` },
    { name: 'max_samples', kind: 'integer', required: false, description: 'random_forest: rows drawn for each tree (default: all the training rows)' },
    { name: 'min_samples', kind: 'integer', required: false, default: 3, description: `${treeAlgorithms}: a node with this many rows or fewer is a leaf` },
  ];
  return parameters.map((parameter) => ({
    ...parameter,
    // As checkTrainingParameters checks them when the run starts.
    checks: { range: { atLeast: parameter.name === 'min_samples' ? 0 : 1 } },
  }));
}

/** A random forest's settings, from a training run's parameters. */
export interface ForestOptions {
  readonly trees: number;
  /** Features drawn for each tree. */
  readonly perTree: number;
  /** Rows drawn (with replacement) for each tree. */
  readonly samples: number;
  readonly seed: number;
  readonly treeOptions: TreeOptions;
}

/**
 * n_estimators, max_features (default `defaultPerTree`), max_samples (default
 * every training row), min_samples, max_depth and seed of a training run.
 */
export function forestOptions(
  params: Readonly<Record<string, unknown>>,
  featureCount: number,
  trainRows: number,
  defaultPerTree: number,
): ForestOptions {
  return {
    trees: params['n_estimators'] as number,
    perTree: Math.min(featureCount, (params['max_features'] as number | undefined) ?? defaultPerTree),
    // For sets too large for ml-cart's quadratic split search.
    samples: Math.min(trainRows, (params['max_samples'] as number | undefined) ?? trainRows),
    seed: params['seed'] as number,
    treeOptions: treeOptions(params),
  };
}

/** min_samples and max_depth (unlimited: Infinity) as ml-cart takes them. */
export function treeOptions(params: Readonly<Record<string, unknown>>): TreeOptions {
  return {
    minNumSamples: params['min_samples'] as number,
    maxDepth: (params['max_depth'] as number | undefined) ?? Infinity,
  };
}

/** The forest's settings as procgate.models records them. */
export function forestHyperparameters(options: ForestOptions): Record<string, unknown> {
  return {
    n_estimators: options.trees,
    max_features: options.perTree,
    max_samples: options.samples,
    min_samples: options.treeOptions.minNumSamples,
    max_depth: Number.isFinite(options.treeOptions.maxDepth) ? options.treeOptions.maxDepth : null,
  };
}

/** The trees as ml-random-forest serialises a forest (RFClassifier or RFRegression), which loads and predicts. */
export function forestModel(
  kind: 'classifier' | 'regression',
  options: ForestOptions,
  estimators: readonly unknown[],
  indexes: readonly (readonly number[])[],
): Record<string, unknown> {
  return {
    name: kind === 'classifier' ? 'RFClassifier' : 'RFRegression',
    ...(kind === 'regression' ? { selectionMethod: 'mean' } : {}),
    baseModel: {
      indexes,
      n: options.perTree,
      replacement: false,
      maxFeatures: options.perTree,
      nEstimators: options.trees,
      treeOptions: options.treeOptions,
      isClassifier: kind === 'classifier',
      seed: options.seed,
      estimators,
      useSampleBagging: true,
    },
  };
}

/** The features a tree sees: the row's columns, in order, and a row projected onto them. */
export interface TreeFeatures {
  readonly columns: readonly number[];
  readonly project: (row: number[]) => number[];
}

export interface GrownForest {
  /** Each tree's JSON, in ml-cart's serialised form. */
  readonly estimators: unknown[];
  /** The features each tree sees, by column. */
  readonly indexes: number[][];
  /** forestModel of them. */
  readonly model: Record<string, unknown>;
}

/**
 * Grows a forest tree by tree in a thread of its own (TreeThread): seeded
 * bootstrap rows (options.samples of them) and feature subset per tree,
 * from the run's seed; the next tree is sent before this one is looked at.
 * After each tree `onTree` gets its JSON, its features and its step (1, 2,
 * ...), for per-tree metrics; progress goes from 5% to 95%. A kill stops it.
 */
export async function growForest(
  kind: 'classifier' | 'regression',
  context: Pick<TypeContext, 'signal' | 'report'>,
  train: { readonly x: readonly number[][]; readonly y: readonly number[] },
  featureCount: number,
  options: ForestOptions,
  onTree: (tree: unknown, features: TreeFeatures, step: number) => Promise<void>,
): Promise<GrownForest> {
  const random = seededRandom(options.seed ^ 0x5f3759df);
  const thread = new TreeThread(kind, context.signal);
  // One tree's draws (rows, then features, in that order from `random`), sent to the thread at once.
  const ask = (): { columns: number[]; project: (row: number[]) => number[]; tree: Promise<unknown> } => {
    const sample = Array.from({ length: options.samples }, () => Math.floor(random() * train.x.length));
    const columns = shuffledIndexes(featureCount, random).slice(0, options.perTree).sort((a, b) => a - b);
    const project = (row: number[]): number[] => columns.map((column) => row[column] as number);
    const x = sample.map((row) => project(train.x[row] as number[]));
    const y = sample.map((row) => train.y[row] as number);
    return { columns, project, tree: thread.train(x, y, options.treeOptions) };
  };
  const estimators: unknown[] = [];
  const indexes: number[][] = [];
  let next = options.trees > 0 ? ask() : undefined;
  try {
    while (next !== undefined) {
      const current = next;
      const tree = await current.tree;
      // The thread grows the next tree while this one is evaluated.
      next = estimators.length + 1 < options.trees ? ask() : undefined;
      if (context.signal.aborted) throw new Error('killed');
      estimators.push(tree);
      indexes.push(current.columns);
      await onTree(tree, { columns: current.columns, project: current.project }, estimators.length);
      context.report({ kind: 'progress', fraction: 0.05 + (0.9 * estimators.length) / options.trees });
    }
  } finally {
    // A kill leaves the tree ahead unawaited.
    next?.tree.catch(() => undefined);
    await thread.close();
  }
  return { estimators, indexes, model: forestModel(kind, options, estimators, indexes) };
}
