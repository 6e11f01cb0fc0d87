/**
 * Trained trees and forests as PostgreSQL functions (issue 5 §3): a
 * decision tree is a nested CASE, a forest the majority vote of its trees'
 * CASEs, both computing exactly what ml-cart / ml-random-forest predict
 * (same comparisons on the same doubles, same tie rules).
 */

/** A node of ml-cart's serialised classifier tree: a leaf has a distribution. */
export interface TreeNodeJson {
  readonly distribution?: readonly (readonly number[])[];
  readonly splitColumn?: number;
  readonly splitValue?: number;
  readonly left?: TreeNodeJson;
  readonly right?: TreeNodeJson;
}

/** A SQL string literal (standard_conforming_strings, PostgreSQL's default since 9.1). */
export function sqlLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

export function sqlIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** The class ml-cart predicts at a leaf: the first index of the largest share (Matrix.maxRowIndex). */
export function leafClass(node: TreeNodeJson): number {
  const row = node.distribution?.[0];
  if (row === undefined || row.length === 0) throw new Error('a tree leaf without a distribution');
  let best = 0;
  for (let i = 1; i < row.length; i += 1) if ((row[i] as number) > (row[best] as number)) best = i;
  return best;
}

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
  if (node.distribution !== undefined || node.left === undefined || node.right === undefined) {
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
 * The body of a forest's function: each tree's class index (tree `t` sees
 * the features `indexes[t]`), then ml-array-mode's vote: the most votes,
 * ties to the class that reached that count first in tree order.
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
  return `SELECT (ARRAY[${labels.map(sqlLiteral).join(', ')}]::text[])[s.v + 1]
  FROM (SELECT t.v, t.ord, pg_catalog.count(*) OVER (PARTITION BY t.v ORDER BY t.ord) AS running
          FROM pg_catalog.unnest(ARRAY[
${votes.map((vote) => `            ${vote}`).join(',\n')}
          ]::int[]) WITH ORDINALITY AS t (v, ord)) s
 ORDER BY s.running DESC, s.ord
 LIMIT 1`;
}

/** CREATE FUNCTION procgate_models.<name>(<features> double precision) RETURNS text for `body`. */
export function createFunction(name: string, features: readonly string[], body: string): string {
  let tag = 'procgate_model';
  while (body.includes(`$${tag}$`)) tag += '_';
  const args = features.map((feature) => `${sqlIdentifier(feature)} double precision`).join(', ');
  return `CREATE FUNCTION procgate_models.${sqlIdentifier(name)}(${args}) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $${tag}$
${body}
$${tag}$`;
}

function labelAt(labels: readonly string[], index: number): string {
  const label = labels[index];
  if (label === undefined) throw new Error(`a tree predicts class ${String(index)} of ${String(labels.length)}`);
  return label;
}
