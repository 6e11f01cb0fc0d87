/**
 * A seeded synthetic classification set for benchmarks (issue 5 §4): CSV
 * on stdout with `features` numeric columns f1..fN and a `label` column of
 * `classes` classes, each a Gaussian blob around its own centre. Same
 * arguments, same bytes.
 *
 *   node --import tsx bench/generate-synthetic.ts [rows=100000] [features=8] [classes=3] [seed=1] > synthetic.csv
 */
import { seededRandom } from '../src/builtins/learners/random.js';

export function* syntheticRows(rows: number, features: number, classes: number, seed: number): Generator<string> {
  const random = seededRandom(seed);
  const gaussian = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const centres = Array.from({ length: classes }, () => Array.from({ length: features }, () => random() * 6 - 3));
  yield [...Array.from({ length: features }, (_, i) => `f${String(i + 1)}`), 'label'].join(',');
  for (let row = 0; row < rows; row += 1) {
    const label = Math.floor(random() * classes);
    const centre = centres[label] as number[];
    yield [...centre.map((c) => (c + gaussian()).toFixed(4)), `class_${String(label)}`].join(',');
  }
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const [rows = 100_000, features = 8, classes = 3, seed = 1] = process.argv.slice(2).map(Number);
  for (const line of syntheticRows(rows, features, classes, seed)) process.stdout.write(`${line}\n`);
}
