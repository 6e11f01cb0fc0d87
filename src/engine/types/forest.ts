import { seededRandom } from './classifier/random.js';
import type { TypeContext } from './procedure-type.js';
import { type TreeOptions, TreeThread } from './tree-thread.js';

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
 * bootstrap rows and feature subset per tree, from the run's seed. After
 * each tree `onTree` gets its JSON, the projection of a row onto its
 * features and its step (1, 2, ...), for per-tree metrics; progress goes
 * from 5% to 95%. A kill stops it.
 */
export async function growForest(
  kind: 'classifier' | 'regression',
  context: Pick<TypeContext, 'signal' | 'report'>,
  train: { readonly x: readonly number[][]; readonly y: readonly number[] },
  featureCount: number,
  options: ForestOptions,
  onTree: (tree: unknown, project: (row: number[]) => number[], step: number) => Promise<void>,
): Promise<GrownForest> {
  const random = seededRandom(options.seed ^ 0x5f3759df);
  const estimators: unknown[] = [];
  const indexes: number[][] = [];
  const thread = new TreeThread(kind, context.signal);
  try {
    const trees = thread.growForest(
      options.trees,
      train,
      featureCount,
      options.perTree,
      random,
      options.treeOptions,
      options.samples,
    );
    for await (const { tree, columns, project } of trees) {
      if (context.signal.aborted) throw new Error('killed');
      estimators.push(tree);
      indexes.push(columns);
      await onTree(tree, project, estimators.length);
      context.report({ kind: 'progress', fraction: 0.05 + (0.9 * estimators.length) / options.trees });
    }
  } finally {
    await thread.close();
  }
  return { estimators, indexes, model: forestModel(kind, options, estimators, indexes) };
}
