/**
 * A forest's vote on each row as trees are added, as ml-random-forest
 * decides it (ml-array-mode over the trees in order): the first label to
 * reach the most votes wins, so after the last tree `leaders` is what the
 * forest predicts.
 */
export class VoteTally {
  private readonly counts: Uint32Array;
  private readonly most: Uint32Array;
  readonly leaders: number[];

  constructor(
    rows: number,
    private readonly classes: number,
  ) {
    this.counts = new Uint32Array(rows * classes);
    this.most = new Uint32Array(rows);
    this.leaders = new Array<number>(rows).fill(-1);
  }

  add(predicted: readonly number[]): void {
    predicted.forEach((label, row) => {
      const at = row * this.classes + label;
      const count = (this.counts[at] as number) + 1;
      this.counts[at] = count;
      if (count > (this.most[row] as number)) {
        this.most[row] = count;
        this.leaders[row] = label;
      }
    });
  }
}

/** The share of rows whose predicted label is the actual one. */
export function accuracyOf(predicted: readonly number[], actual: readonly number[]): number {
  let right = 0;
  predicted.forEach((label, row) => {
    if (label === actual[row]) right += 1;
  });
  return actual.length === 0 ? 0 : right / actual.length;
}

