import { DecisionTreeClassifier } from 'ml-cart';
import { describe, expect, it } from 'vitest';
import { type TreeNodeJson, treeClasses } from '../../src/builtins/learners/classifier/tree-json.js';
import { irisRows } from '../support/iris.js';

describe('treeClasses', () => {
  it('gives each row the class ml-cart predicts for the row projected onto the tree\'s columns', () => {
    const rows = irisRows();
    const species = [...new Set(rows.map((row) => row.species))];
    // A tree on two of the four columns, deep enough for ties in some leaves.
    for (const columns of [[1, 3], [0, 2], [3]]) {
      const project = (features: number[]): number[] => columns.map((column) => features[column] as number);
      const tree = new DecisionTreeClassifier({ maxDepth: 4, minNumSamples: 2 });
      tree.train(rows.map((row) => project(row.features)), rows.map((row) => species.indexOf(row.species)));
      const json = JSON.parse(JSON.stringify(tree)) as { root: TreeNodeJson };
      const expected = DecisionTreeClassifier.load(json).predict(rows.map((row) => project(row.features)));
      expect(treeClasses(json.root, columns, rows.map((row) => row.features))).toEqual(expected);
      expect(new Set(expected).size).toBeGreaterThan(1);
    }
  });
});
