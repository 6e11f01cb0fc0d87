/**
 * Classifiers that score each class and predict the highest score:
 * multinomial logistic regression and Gaussian naive Bayes. Both are
 * stored with what the score needs and nothing else, and the JavaScript
 * prediction and the generated SQL function compute every score with the
 * same double operations in the same order, so they predict the same class
 * (ties go to the first class, in label order).
 *
 * Written here rather than taken from ml.js: ml-logistic-regression 2.0.0
 * fits no intercept, and ml-naivebayes 4.0.0's GaussianNB scored 0.73 on
 * iris and fails to predict an input of features + 1 rows.
 */
import { sqlFloat8, sqlLiteral } from '../sql-quoting.js';

/** score_k = intercepts[k] + Σ_j weights[k][j] * x_j */
export interface LogisticModel {
  readonly kind: 'logistic_regression';
  readonly intercepts: readonly number[];
  readonly weights: readonly (readonly number[])[];
}

/** score_k = constants[k] - Σ_j scales[k][j] * ((x_j - means[k][j]) * (x_j - means[k][j])) */
export interface NaiveBayesModel {
  readonly kind: 'naive_bayes';
  readonly constants: readonly number[];
  readonly means: readonly (readonly number[])[];
  readonly scales: readonly (readonly number[])[];
}

export type ScoreModel = LogisticModel | NaiveBayesModel;

/** The class with the highest score for each row (the first of equals). */
export function predictScores(model: ScoreModel, rows: readonly (readonly number[])[]): number[] {
  return rows.map((row) => {
    let best = 0;
    let bestScore = -Infinity;
    const classes = model.kind === 'logistic_regression' ? model.intercepts.length : model.constants.length;
    for (let k = 0; k < classes; k += 1) {
      const score = scoreOf(model, k, row);
      if (k === 0 || score > bestScore) {
        best = k;
        bestScore = score;
      }
    }
    return best;
  });
}

function scoreOf(model: ScoreModel, k: number, row: readonly number[]): number {
  if (model.kind === 'logistic_regression') {
    const weights = model.weights[k] as readonly number[];
    let score = model.intercepts[k] as number;
    for (let j = 0; j < weights.length; j += 1) score += (weights[j] as number) * (row[j] as number);
    return score;
  }
  const means = model.means[k] as readonly number[];
  const scales = model.scales[k] as readonly number[];
  let score = model.constants[k] as number;
  for (let j = 0; j < means.length; j += 1) {
    const d = (row[j] as number) - (means[j] as number);
    score -= (scales[j] as number) * (d * d);
  }
  return score;
}

/** The SQL of score_k over the function's arguments $1..$n, in scoreOf's order. */
function scoreSql(model: ScoreModel, k: number): string {
  if (model.kind === 'logistic_regression') {
    const weights = model.weights[k] as readonly number[];
    return weights.reduce(
      (sum, weight, j) => `(${sum} + ${sqlFloat8(weight)} * $${String(j + 1)})`,
      sqlFloat8(model.intercepts[k] as number),
    );
  }
  const means = model.means[k] as readonly number[];
  const scales = model.scales[k] as readonly number[];
  return means.reduce((sum, mean, j) => {
    const d = `($${String(j + 1)} - ${sqlFloat8(mean)})`;
    return `(${sum} - ${sqlFloat8(scales[j] as number)} * (${d} * ${d}))`;
  }, sqlFloat8(model.constants[k] as number));
}

/** The PL/pgSQL body of the model's function: every class's score, then the first highest. */
export function scoreModelBody(model: ScoreModel, labels: readonly string[]): string {
  const scores = labels.map((_, k) => `    ${scoreSql(model, k)}`);
  return `DECLARE
  scores float8[] := ARRAY[
${scores.join(',\n')}
  ];
  best int := 1;
BEGIN
  FOR k IN 2..${String(labels.length)} LOOP
    IF scores[k] > scores[best] THEN
      best := k;
    END IF;
  END LOOP;
  RETURN (ARRAY[${labels.map(sqlLiteral).join(', ')}]::text[])[best];
END`;
}

export interface LogisticOptions {
  readonly epochs: number;
  readonly learningRate: number;
  readonly l2: number;
}

/**
 * Multinomial logistic regression by full-batch gradient descent on
 * standardised features, from zero weights: deterministic, no seed needed.
 * `onEpoch` is awaited after each epoch with the training loss (mean
 * cross-entropy) and the model so far, folded back to the raw features.
 */
export async function trainLogistic(
  x: readonly (readonly number[])[],
  y: readonly number[],
  classes: number,
  options: LogisticOptions,
  onEpoch: (epoch: number, loss: number, model: () => LogisticModel) => Promise<void>,
): Promise<LogisticModel> {
  const n = x.length;
  const features = x[0]?.length ?? 0;
  const { means, deviations } = standardisation(x, features);
  const z = x.map((row) => row.map((value, j) => (value - (means[j] as number)) / (deviations[j] as number)));
  const weights = Array.from({ length: classes }, () => new Array<number>(features).fill(0));
  const intercepts = new Array<number>(classes).fill(0);
  const fold = (): LogisticModel => ({
    kind: 'logistic_regression',
    weights: weights.map((row) => row.map((weight, j) => weight / (deviations[j] as number))),
    intercepts: intercepts.map(
      (intercept, k) =>
        intercept -
        (weights[k] as number[]).reduce(
          (sum, weight, j) => sum + (weight * (means[j] as number)) / (deviations[j] as number),
          0,
        ),
    ),
  });
  const probabilities = new Array<number>(classes).fill(0);
  for (let epoch = 1; epoch <= options.epochs; epoch += 1) {
    const gradient = Array.from({ length: classes }, () => new Array<number>(features).fill(0));
    const interceptGradient = new Array<number>(classes).fill(0);
    let loss = 0;
    for (let i = 0; i < n; i += 1) {
      const row = z[i] as number[];
      let max = -Infinity;
      for (let k = 0; k < classes; k += 1) {
        let score = intercepts[k] as number;
        const w = weights[k] as number[];
        for (let j = 0; j < features; j += 1) score += (w[j] as number) * (row[j] as number);
        probabilities[k] = score;
        if (score > max) max = score;
      }
      let total = 0;
      for (let k = 0; k < classes; k += 1) {
        probabilities[k] = Math.exp((probabilities[k] as number) - max);
        total += probabilities[k] as number;
      }
      const label = y[i] as number;
      loss -= Math.log(Math.max((probabilities[label] as number) / total, 1e-300));
      for (let k = 0; k < classes; k += 1) {
        const error = (probabilities[k] as number) / total - (k === label ? 1 : 0);
        interceptGradient[k] = (interceptGradient[k] as number) + error;
        const g = gradient[k] as number[];
        for (let j = 0; j < features; j += 1) g[j] = (g[j] as number) + error * (row[j] as number);
      }
    }
    for (let k = 0; k < classes; k += 1) {
      const w = weights[k] as number[];
      const g = gradient[k] as number[];
      for (let j = 0; j < features; j += 1) {
        w[j] = (w[j] as number) - options.learningRate * ((g[j] as number) / n + options.l2 * (w[j] as number));
      }
      intercepts[k] = (intercepts[k] as number) - (options.learningRate * (interceptGradient[k] as number)) / n;
    }
    await onEpoch(epoch, loss / n, fold);
  }
  return fold();
}

/** Gaussian naive Bayes: class priors and per-class means and variances (smoothed by `varSmoothing` × the largest variance). */
export function trainNaiveBayes(
  x: readonly (readonly number[])[],
  y: readonly number[],
  classes: number,
  varSmoothing: number,
): NaiveBayesModel {
  const features = x[0]?.length ?? 0;
  const { deviations } = standardisation(x, features);
  const epsilon = varSmoothing * Math.max(...deviations.map((deviation) => deviation * deviation));
  const constants: number[] = [];
  const means: number[][] = [];
  const scales: number[][] = [];
  for (let k = 0; k < classes; k += 1) {
    const rows = x.filter((_, i) => y[i] === k);
    if (rows.length === 0) throw new Error(`class ${String(k)} has no training rows`);
    const mean = Array.from(
      { length: features },
      (_, j) => rows.reduce((sum, row) => sum + (row[j] as number), 0) / rows.length,
    );
    const variance = mean.map(
      (m, j) => rows.reduce((sum, row) => sum + ((row[j] as number) - m) ** 2, 0) / rows.length + epsilon,
    );
    const logPrior = Math.log(rows.length / x.length);
    constants.push(variance.reduce((sum, v) => sum - 0.5 * Math.log(2 * Math.PI * v), logPrior));
    means.push(mean);
    scales.push(variance.map((v) => 1 / (2 * v)));
  }
  return { kind: 'naive_bayes', constants, means, scales };
}

/** Per-feature mean and standard deviation (1 for a constant feature). */
function standardisation(
  x: readonly (readonly number[])[],
  features: number,
): { means: number[]; deviations: number[] } {
  const n = x.length;
  const means = Array.from({ length: features }, (_, j) => x.reduce((sum, row) => sum + (row[j] as number), 0) / n);
  const deviations = means.map((mean, j) => {
    const deviation = Math.sqrt(x.reduce((sum, row) => sum + ((row[j] as number) - mean) ** 2, 0) / n);
    return deviation > 0 ? deviation : 1;
  });
  return { means, deviations };
}
