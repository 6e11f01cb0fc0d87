/**
 * Trained trees and forests as PostgreSQL functions (issue 5 §3): a
 * decision tree is a nested CASE, a forest the majority vote of its trees'
 * CASEs, both computing exactly what ml-cart / ml-random-forest predict
 * (same comparisons on the same doubles, same tie rules).
 */

import { sqlIdentifier, sqlLiteral } from '../sql-quoting.js';
import { isSplit, leafClass, type TreeNodeJson } from './tree-json.js';

/**
 * A tree as a CASE expression: `feature(column)` is the SQL for the tree's
 * column, `leaf(class)` the SQL for a leaf's class. ml-cart goes left when
 * `row[column] < splitValue`.
 */
export function treeCase(
  node: TreeNodeJson,
  feature: (column: number) => string,
  leaf: (label: number) => string,
): string {
  if (!isSplit(node)) {
    return leaf(leafClass(node));
  }
  if (node.splitColumn === undefined || node.splitValue === undefined || !Number.isFinite(node.splitValue)) {
    throw new Error('a tree node without a split');
  }
  return `CASE WHEN ${feature(node.splitColumn)} < ${sqlLiteral(String(node.splitValue))}::float8 THEN ${treeCase(
    node.left,
    feature,
    leaf,
  )} ELSE ${treeCase(node.right, feature, leaf)} END`;
}

/** The body of a decision tree's function: features are $1..$n in training order. */
export function decisionTreeBody(root: TreeNodeJson, labels: readonly string[]): string {
  return `SELECT ${treeCase(root, (column) => `$${String(column + 1)}`, (label) => sqlLiteral(labelAt(labels, label)))}`;
}

/**
 * The body of a forest's function, in PL/pgSQL: each tree's class index
 * (tree `t` sees the features `indexes[t]`) in one array expression, then
 * ml-array-mode's vote: the most votes, ties to the class that reached
 * that count first in tree order. A loop over a small array runs as
 * PL/pgSQL's simple expressions, far faster per row than a query of
 * unnest, window and sort.
 */
export function forestBody(
  trees: readonly TreeNodeJson[],
  indexes: readonly (readonly number[])[],
  labels: readonly string[],
): string {
  const votes = trees.map((root, t) =>
    treeCase(
      root,
      (column) => {
        const original = indexes[t]?.[column];
        if (original === undefined) throw new Error(`tree ${String(t)} has no feature ${String(column)}`);
        return `$${String(original + 1)}`;
      },
      (label) => String(label),
    ),
  );
  return `DECLARE
  votes int[] := ARRAY[
${votes.map((vote) => `    ${vote}`).join(',\n')}
  ];
  counts int[] := pg_catalog.array_fill(0, ARRAY[${String(labels.length)}]);
  vote int;
  best int := 0;
  best_count int := 0;
BEGIN
  FOREACH vote IN ARRAY votes LOOP
    counts[vote + 1] := counts[vote + 1] + 1;
    IF counts[vote + 1] > best_count THEN
      best := vote;
      best_count := counts[vote + 1];
    END IF;
  END LOOP;
  RETURN (ARRAY[${labels.map(sqlLiteral).join(', ')}]::text[])[best + 1];
END`;
}

/** CREATE FUNCTION procgate_models.<name>(<features> double precision) RETURNS text for `body`. */
export function createFunction(
  name: string,
  features: readonly string[],
  body: string,
  language: 'sql' | 'plpgsql' = 'sql',
): string {
  let tag = 'procgate_model';
  while (body.includes(`$${tag}$`)) tag += '_';
  const args = features.map((feature) => `${sqlIdentifier(feature)} double precision`).join(', ');
  return `CREATE FUNCTION procgate_models.${sqlIdentifier(name)}(${args}) RETURNS text
LANGUAGE ${language} IMMUTABLE STRICT PARALLEL SAFE
AS $${tag}$
${body}
$${tag}$`;
}

function labelAt(labels: readonly string[], index: number): string {
  const label = labels[index];
  if (label === undefined) throw new Error(`a tree predicts class ${String(index)} of ${String(labels.length)}`);
  return label;
}
