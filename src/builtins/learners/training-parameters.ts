import type { TypeParameter } from '../../engine/procedure-type.js';
import { TypeParameterError } from '../../engine/type-parameter-error.js';
import { checkModelName, MODEL_NAME_PATTERN } from './model-store.js';

/** The model a training type writes: the same parameter for every learner. */
export const MODEL_NAME_PARAMETER: TypeParameter = {
  name: 'model_name',
  kind: 'text',
  required: true,
  description: 'the model (procgate.models) and its function procgate_models.<model_name>',
  checks: { pattern: MODEL_NAME_PATTERN },
};

/** A parameter naming an existing model of procgate.models, of one of `types` (any when empty). */
export function existingModelParameter(
  description: string,
  types: readonly string[],
  sqlFunction = false,
): TypeParameter {
  return {
    name: 'model_name',
    kind: 'text',
    required: true,
    description,
    checks: { pattern: MODEL_NAME_PATTERN, model: { types, sqlFunction } },
  };
}

/** The TABLE a `*.test` type evaluates a model on: the model's feature columns, numeric, and its label. */
export const TEST_DATA_PARAMETER: TypeParameter = {
  name: 'test_data',
  kind: 'table',
  required: true,
  description: "TABLE (select): the model's feature columns and the label column",
  checks: { features: { numeric: true, ofModel: 'model_name' } },
};

/** What one supervised training type says of the parameters they all take. */
export interface TrainingParameterText {
  /** What the TABLE `training_data` holds. */
  readonly trainingData: string;
  /** What the `label` column is. */
  readonly label: string;
  /** Whether the label must be numeric (a regression's). */
  readonly numericLabel: boolean;
  readonly algorithms: readonly string[];
  readonly defaultAlgorithm: string;
  /** What the held-out rows measure (`test_split`). */
  readonly heldOutFor: string;
}

/**
 * The parameters classifier.train and regression.train share, in the order
 * SHOW and the catalog list them: training_data, label, algorithm,
 * model_name, test_split, seed.
 */
export function trainingParameters(text: TrainingParameterText): TypeParameter[] {
  return [
    {
      name: 'training_data',
      kind: 'table',
      required: true,
      description: text.trainingData,
      checks: { features: { numeric: true, except: ['label'] } },
    },
    {
      name: 'label',
      kind: 'text',
      required: false,
      default: 'label',
      description: text.label,
      checks: { columnOf: 'training_data', ...(text.numericLabel ? { numeric: true } : {}) },
    },
    {
      name: 'algorithm',
      kind: 'text',
      required: false,
      default: text.defaultAlgorithm,
      description: text.algorithms.join(' | '),
      checks: { allowed: text.algorithms },
    },
    MODEL_NAME_PARAMETER,
    {
      name: 'test_split',
      kind: 'numeric',
      required: false,
      default: 0.2,
      description: `the share of rows held out for the ${text.heldOutFor}, in [0, 1)`,
      checks: { range: { atLeast: 0, lessThan: 1 } },
    },
    { name: 'seed', kind: 'integer', required: false, default: 1, description: 'shuffles the split and the forest: same seed, same model' },
  ];
}

/**
 * The parameters the training types share: the algorithm (one of
 * `algorithms`), the model name, `test_split` in [0, 1), and tree sizes
 * that are at least 1 (min_samples at least 0).
 */
export function checkTrainingParameters<A extends string>(
  params: Readonly<Record<string, unknown>>,
  algorithms: readonly A[],
): { algorithm: A; modelName: string; testSplit: number } {
  const algorithm = params['algorithm'] as A;
  if (!algorithms.includes(algorithm)) {
    throw new TypeParameterError(`unknown algorithm "${algorithm}" (the choices: ${algorithms.join(', ')})`);
  }
  const modelName = checkModelName(params['model_name']);
  const testSplit = params['test_split'] as number;
  if (!(testSplit >= 0 && testSplit < 1)) throw new TypeParameterError('test_split must be in [0, 1)');
  for (const name of ['n_estimators', 'max_features', 'max_depth', 'max_samples', 'min_samples']) {
    const least = name === 'min_samples' ? 0 : 1;
    const value = params[name];
    if (value !== undefined && (value as number) < least) {
      throw new TypeParameterError(`${name} must be at least ${String(least)}`);
    }
  }
  return { algorithm, modelName, testSplit };
}
