/** The regression tree of ml-cart (2.1.1), which has no types of its own: what procgate uses. */
declare module 'ml-cart' {
  export class DecisionTreeRegression {
    constructor(options?: DecisionTreeOptions);
    train(trainingSet: number[][], values: number[]): void;
    predict(rows: number[][]): number[];
    toJSON(): { options: DecisionTreeOptions; root: unknown; name: 'DTRegression' };
    static load(model: unknown): DecisionTreeRegression;
  }
}
