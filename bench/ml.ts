/**
 * `npm run bench:ml` (issue 5 §5): the ML procedure types against the same
 * work done without the engine.
 *
 * 1. Training: a seeded synthetic set (bench/generate-synthetic.ts) COPYed
 *    into a table, a random forest trained by `EXECUTE PROCEDURE` of a
 *    `classifier.train` procedure (EXECUTE sent -> the run's finished_at),
 *    against the same training in this process: the rows read once into
 *    memory in the type's canonical order (readStagedRows, untimed), then
 *    timed: the same seeded split, the same seeded bootstrap rows and
 *    feature subset per tree, the same ml-cart DecisionTreeClassifier per
 *    tree, loaded as an ml-random-forest model that predicts the test and
 *    training rows for the accuracies, the library's plain use. Not
 *    ml-random-forest's own RandomForestClassifier.train: it samples
 *    differently (its own seeded generator), so it would grow different
 *    trees of different sizes and the ratio would compare two forests, not
 *    the engine's overhead. What the baseline leaves out is what procgate
 *    adds: dispatch, staging the TABLE, reading it back, per-tree metrics
 *    and their INSERTs, the model row and its SQL function. What procgate
 *    does differently: its trees grow in a thread while the main thread
 *    counts the last tree's votes on the test and training rows, so no
 *    pass over the rows is left after the last tree.
 * 2. Scoring: BENCH_SCORE_ROWS rows scored with the model's SQL function,
 *    straight to PostgreSQL (a plain `SELECT count(fn(...))`, and an
 *    `INSERT INTO ... SELECT *, fn(...)` like model.apply's), against
 *    `model.apply` WITH (segments = 4) INTO a table through procgate.
 *
 * A report, not a test: exits 0 whether or not the bars are met.
 *
 * Env: BENCH_TRAIN_ROWS (default 100000), BENCH_MAX_SAMPLES (2000),
 * BENCH_SCORE_ROWS (1000000), BENCH_TREES (10), BENCH_MAX_DEPTH (6),
 * BENCH_ROUNDS (5: training rounds, the two sides alternating, medians
 * compared; one run of either side varies by a fifth on a shared 2-core machine).
 * ml-cart 2.1.1's split search is quadratic in a node's rows (one tree of
 * depth 6 on 3 features: 0.8 s at 2,000 rows, 2.7 s at 4,000, 10 s at 8,000
 * on the 2-core dev machine), so a tree on all 80,000 training rows would
 * take hours: each tree is grown on a bootstrap sample of BENCH_MAX_SAMPLES
 * rows (classifier.train's max_samples), on both sides.
 */
import { performance } from 'node:perf_hooks';
import { DecisionTreeClassifier } from 'ml-cart';
import { RandomForestClassifier } from 'ml-random-forest';
import pg from 'pg';
import { seededRandom, shuffledIndexes } from '../src/builtins/learners/random.js';
import { forestModel } from '../src/builtins/learners/forest.js';
import { readStagedRows } from '../src/builtins/learners/staged-rows.js';
import { report, type Training } from './ml/report.js';
import { scoringPhase } from './ml/scoring.js';
import {
  execute,
  FEATURE_NAMES,
  FEATURES,
  loadSynthetic,
  MIN_SAMPLES,
  type MlBench,
  MODEL,
  readSettings,
  SEED,
  type Settings,
  startMlBench,
  TEST_SPLIT,
} from './ml/setup.js';
import { DATABASE } from './support/cluster.js';
import { runBench } from './support/run-bench.js';
import { progress } from './support/settings.js';

async function trainingPhase(bench: MlBench, settings: Settings): Promise<Training> {
  await loadSynthetic(bench, 'train_data', settings.trainRows, SEED);
  await bench.client.query(`CREATE PROCEDURE bench_train TYPE 'classifier.train'`);
  progress('reading the rows for the in-process training (untimed)');
  const { x, y } = await readTrainingRows(bench);
  const procgateMs: number[] = [];
  const directMs: number[] = [];
  let procgateAccuracy = NaN;
  let directAccuracy = NaN;
  // Alternately, so a slow spell of the shared machine hits both sides alike.
  for (let round = 1; round <= settings.rounds; round += 1) {
    progress(
      `round ${String(round)}/${String(settings.rounds)}: training ${String(settings.trees)} trees (max_depth ` +
        `${String(settings.maxDepth)}, max_samples ${String(settings.maxSamples)}) on ${String(settings.trainRows)} ` +
        'rows through procgate, then in this process',
    );
    const run = await execute(
      bench,
      `EXECUTE PROCEDURE bench_train(
         training_data => TABLE (SELECT ${FEATURE_NAMES.join(', ')}, label FROM train_data),
         label => 'label', model_name => '${MODEL}', test_split => ${String(TEST_SPLIT)}, seed => ${String(SEED)},
         n_estimators => ${String(settings.trees)}, max_depth => ${String(settings.maxDepth)},
         max_samples => ${String(settings.maxSamples)}, min_samples => ${String(MIN_SAMPLES)})`,
      'classifier.train',
    );
    procgateMs.push(run.finishedMs - run.sentMs);
    // Per segment: segment 0 trains.
    procgateAccuracy = Number((run.results['0'] as Record<string, unknown> | undefined)?.['accuracy']);
    const started = performance.now();
    directAccuracy = trainDirectly(x, y, settings);
    directMs.push(performance.now() - started);
  }
  return { rows: settings.trainRows, procgateMs, directMs, procgateAccuracy, directAccuracy };
}

/** The rows as the type reads them (readStagedRows: canonical order), labels indexed in sorted order. */
async function readTrainingRows(bench: MlBench): Promise<{ x: number[][]; y: number[] }> {
  const pool = new pg.Pool({ connectionString: bench.cluster.url(DATABASE), max: 1 });
  try {
    const { labels, x } = await readStagedRows(pool, {
      from: 'public.train_data',
      label: { column: 'label', as: 'text' },
      features: FEATURE_NAMES,
    });
    const sorted = [...new Set(labels as string[])].sort();
    const index = new Map(sorted.map((label, i) => [label, i]));
    return { x, y: labels.map((label) => index.get(label as string) as number) };
  } finally {
    await pool.end();
  }
}

/**
 * The training classifier.train does, with the same libraries, seeds and
 * options, without the engine: split, bootstrap and feature subset per
 * tree, ml-cart trees, an ml-random-forest model for the accuracies.
 * Returns the test accuracy, which must equal the run's.
 */
function trainDirectly(x: number[][], y: number[], settings: Settings): number {
  const order = shuffledIndexes(x.length, seededRandom(SEED));
  const testCount = Math.round(x.length * TEST_SPLIT);
  const pick = <T>(rows: number[], values: readonly T[]): T[] => rows.map((row) => values[row] as T);
  const train = { x: pick(order.slice(testCount), x), y: pick(order.slice(testCount), y) };
  const test = { x: pick(order.slice(0, testCount), x), y: pick(order.slice(0, testCount), y) };
  const options = {
    trees: settings.trees,
    perTree: Math.ceil(Math.sqrt(FEATURES)),
    samples: Math.min(train.x.length, settings.maxSamples),
    seed: SEED,
    treeOptions: { minNumSamples: MIN_SAMPLES, maxDepth: settings.maxDepth },
  };
  const random = seededRandom(SEED ^ 0x5f3759df);
  const estimators: unknown[] = [];
  const indexes: number[][] = [];
  for (let t = 0; t < settings.trees; t += 1) {
    const sample = Array.from({ length: options.samples }, () => Math.floor(random() * train.x.length));
    const columns = shuffledIndexes(FEATURES, random).slice(0, options.perTree).sort((a, b) => a - b);
    const project = (row: number[]): number[] => columns.map((column) => row[column] as number);
    const tree = new DecisionTreeClassifier(options.treeOptions);
    tree.train(
      sample.map((row) => project(train.x[row] as number[])),
      sample.map((row) => train.y[row] as number),
    );
    estimators.push(JSON.parse(JSON.stringify(tree)));
    indexes.push(columns);
  }
  const forest = RandomForestClassifier.load(forestModel('classifier', options, estimators, indexes) as never);
  const accuracy = (rows: { x: number[][]; y: number[] }): number => {
    const predicted = forest.predict(rows.x) as number[];
    return predicted.filter((label, row) => label === rows.y[row]).length / Math.max(1, rows.y.length);
  };
  accuracy(train);
  return accuracy(test);
}

runBench(
  'bench:ml',
  async (cleanup) => {
    const settings = readSettings();
    const bench = await startMlBench(cleanup);
    const training = await trainingPhase(bench, settings);
    const scoring = await scoringPhase(bench, settings);
    report(settings, training, scoring);
    return 0;
  },
  { timed: true },
);
