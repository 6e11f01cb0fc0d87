/** A node of ml-cart's serialised classifier tree: a leaf has a distribution. */
export interface TreeNodeJson {
  readonly distribution?: readonly (readonly number[])[];
  readonly splitColumn?: number;
  readonly splitValue?: number;
  readonly left?: TreeNodeJson;
  readonly right?: TreeNodeJson;
}

/** What every serialised ml-cart node (classifier or regression) has for splitting. */
export interface SplittingNode<Node> {
  readonly splitColumn?: number;
  readonly splitValue?: number;
  readonly left?: Node;
  readonly right?: Node;
}

/** A node with both children splits; any other is a leaf (ml-cart's classify, and the SQL functions). */
export function isSplit<Node extends SplittingNode<Node>>(node: Node): node is Node & { left: Node; right: Node } {
  return node.left !== undefined && node.right !== undefined;
}

/**
 * The leaf a row reaches, walking a tree's JSON as ml-cart's classify does
 * (left when `row[column] < splitValue`), the tree's column `c` being the
 * row's `columns[c]`: no projected copy of the row is made.
 */
export function leafOf<Node extends SplittingNode<Node>>(
  root: Node,
  columns: readonly number[],
  row: readonly number[],
): Node {
  let node = root;
  while (isSplit(node)) {
    const value = row[columns[node.splitColumn as number] as number] as number;
    node = value < (node.splitValue as number) ? node.left : node.right;
  }
  return node;
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
 * The class a tree gives each row projected onto `columns` (leafOf): what
 * `DecisionTreeClassifier.load(tree).predict` gives, without copying the
 * rows into a matrix first.
 */
export function treeClasses(
  root: TreeNodeJson,
  columns: readonly number[],
  rows: readonly (readonly number[])[],
): number[] {
  const classes = new Map<TreeNodeJson, number>();
  return rows.map((row) => {
    const leaf = leafOf(root, columns, row);
    let label = classes.get(leaf);
    if (label === undefined) {
      label = leafClass(leaf);
      classes.set(leaf, label);
    }
    return label;
  });
}
