/** A node of ml-cart's serialised classifier tree: a leaf has a distribution. */
export interface TreeNodeJson {
  readonly distribution?: readonly (readonly number[])[];
  readonly splitColumn?: number;
  readonly splitValue?: number;
  readonly left?: TreeNodeJson;
  readonly right?: TreeNodeJson;
}

/** A node with both children and no distribution; any other node is a leaf (as the SQL function reads it too). */
export type SplitNode = TreeNodeJson & { readonly left: TreeNodeJson; readonly right: TreeNodeJson };

export function isSplit(node: TreeNodeJson): node is SplitNode {
  return node.distribution === undefined && node.left !== undefined && node.right !== undefined;
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
 * The class a tree gives each row, walking its JSON as ml-cart's classify
 * does (left when `row[column] < splitValue`), the tree's column `c` being
 * the row's `columns[c]`: what `DecisionTreeClassifier.load(tree).predict`
 * gives the rows projected onto `columns`, without copying them into a
 * matrix first.
 */
export function treeClasses(
  root: TreeNodeJson,
  columns: readonly number[],
  rows: readonly (readonly number[])[],
): number[] {
  const classes = new Map<TreeNodeJson, number>();
  return rows.map((row) => {
    let node = root;
    while (isSplit(node)) {
      const value = row[columns[node.splitColumn as number] as number] as number;
      node = value < (node.splitValue as number) ? node.left : node.right;
    }
    let leaf = classes.get(node);
    if (leaf === undefined) {
      leaf = leafClass(node);
      classes.set(node, leaf);
    }
    return leaf;
  });
}
