/**
 * Trained regression models as PostgreSQL functions (issue 5 §3): a linear
 * model is its intercept plus the dot product, a forest the mean of its
 * regression trees' CASE expressions. Both add and multiply the same
 * doubles in the same order as ml-regression-multivariate-linear and
 * ml-random-forest, so they return the same values.
 */
import { sqlFloat8, sqlIdentifier } from '../sql-quoting.js';

/** A node of ml-cart's serialised regression tree: a leaf has its mean as `distribution`. */
export interface RegressionNodeJson {
  readonly distribution?: number;
  readonly splitColumn?: number;
  readonly splitValue?: number;
  readonly left?: RegressionNodeJson;
  readonly right?: RegressionNodeJson;
}

/** A regression tree as a CASE expression; ml-cart goes left when `row[column] < splitValue`. */
export function regressionTreeCase(node: RegressionNodeJson, feature: (column: number) => string): string {
  if (node.left === undefined || node.right === undefined) {
    if (typeof node.distribution !== 'number') throw new Error('a regression tree leaf without a value');
    return sqlFloat8(node.distribution);
  }
  if (node.splitColumn === undefined || node.splitValue === undefined) throw new Error('a tree node without a split');
  return `CASE WHEN ${feature(node.splitColumn)} < ${sqlFloat8(node.splitValue)} THEN ${regressionTreeCase(
    node.left,
    feature,
  )} ELSE ${regressionTreeCase(node.right, feature)} END`;
}

/**
 * The body of a linear model's function: `weights` as ml-regression-
 * multivariate-linear keeps them (one per feature, then the intercept),
 * summed as it does: intercept first, then each weight times its feature.
 */
export function linearBody(weights: readonly number[], intercept: number): string {
  const terms = weights.map((weight, i) => `(${sqlFloat8(weight)} * $${String(i + 1)})`);
  return `SELECT ${[sqlFloat8(intercept), ...terms].join(' + ')}`;
}

/** The body of a forest's function: the mean of its trees (tree `t` sees the features `indexes[t]`), summed in tree order. */
export function regressionForestBody(
  trees: readonly RegressionNodeJson[],
  indexes: readonly (readonly number[])[],
): string {
  const values = trees.map((root, t) =>
    regressionTreeCase(root, (column) => {
      const original = indexes[t]?.[column];
      if (original === undefined) throw new Error(`tree ${String(t)} has no feature ${String(column)}`);
      return `$${String(original + 1)}`;
    }),
  );
  return `SELECT (${values.map((value) => `(${value})`).join('\n  + ')}) / ${sqlFloat8(trees.length)}`;
}

/** CREATE FUNCTION procgate_models.<name>(<features> double precision) RETURNS double precision for `body`. */
export function createRegressionFunction(name: string, features: readonly string[], body: string): string {
  let tag = 'procgate_model';
  while (body.includes(`$${tag}$`)) tag += '_';
  const args = features.map((feature) => `${sqlIdentifier(feature)} double precision`).join(', ');
  return `CREATE FUNCTION procgate_models.${sqlIdentifier(name)}(${args}) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $${tag}$
${body}
$${tag}$`;
}
