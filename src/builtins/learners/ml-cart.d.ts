/** The parts of ml-cart (2.1.1), which has no types of its own, that procgate uses: its classification and regression trees. */
declare module 'ml-cart' {
  export interface DecisionTreeOptions {
    gainFunction?: 'gini';
    splitFunction?: 'mean';
    minNumSamples?: number;
    maxDepth?: number;
    gainThreshold?: number;
  }
  export class DecisionTreeClassifier {
    constructor(options?: DecisionTreeOptions);
    train(trainingSet: number[][], labels: number[]): void;
    predict(rows: number[][]): number[];
    toJSON(): { options: DecisionTreeOptions; root: unknown; name: 'DTClassifier' };
    static load(model: unknown): DecisionTreeClassifier;
  }
  export class DecisionTreeRegression {
    constructor(options?: DecisionTreeOptions);
    train(trainingSet: number[][], values: number[]): void;
    predict(rows: number[][]): number[];
    toJSON(): { options: DecisionTreeOptions; root: unknown; name: 'DTRegression' };
    static load(model: unknown): DecisionTreeRegression;
  }
}
