/**
 * `npm run bench:engine`: the engine's dispatch cost and data path.
 *
 * 1. Dispatch: no-op javascript runs (`export default () => {}`) submitted
 *    as fast as 8 connections through procgate can, then the same for a
 *    no-op command (`true`, NONDISTRIBUTED): runs/s from the first EXECUTE
 *    sent to the last run's finished_at, and EXECUTE -> succeeded latency.
 *    Also a paced submission well under capacity, so latency without a
 *    backlog is visible next to latency with one. CPU per run of procgate
 *    and of PostgreSQL (from /proc), and PostgreSQL's time by statement
 *    (pg_stat_statements, preloaded, tracking only during the flat-out runs).
 * 2. Data: an identity over BENCH_ROWS rows x 5 columns in 4 segments, as
 *    a command procedure (python3 shutil.copyfile of the input file to the
 *    output file: the cheapest faithful identity under the control-file
 *    contract) and as a javascript pass-through, against PostgreSQL's own
 *    `INSERT INTO out SELECT * FROM in` in the same run; with the peak RSS
 *    of procgate's node process and a profile of where each run's time
 *    went (PostgreSQL's statement durations, procgate's debug log, the
 *    program's own timestamps).
 *
 * procgate runs as its own process (`serve --slots 4 --database`) in front
 * of an embedded PostgreSQL the bench starts, as bench:wire does; dispatch
 * and data each get a fresh procgate, so the data phase's peak RSS is its
 * own. A report, not a test: it exits 0 whether or not the bars are met,
 * non-zero only when something failed to run.
 *
 * Env: BENCH_ROWS (default 1000000), BENCH_JS_RUNS (1000), BENCH_COMMAND_RUNS (200);
 * BENCH_CPU_PROF=<dir> has each procgate write a V8 CPU profile there when it stops.
 */
import { dataPhase } from './engine/data.js';
import { dispatchPhase } from './engine/dispatch.js';
import { report } from './engine/report.js';
import { readSettings, startEngineBench } from './engine/setup.js';
import { runBench } from './support/run-bench.js';
import { loadAverages } from './support/report.js';

runBench(
  'bench:engine',
  async (cleanup) => {
    const settings = readSettings();
    const startLoad = loadAverages();
    const bench = await startEngineBench(cleanup);
    const dispatch = await dispatchPhase(bench, settings);
    const data = await dataPhase(bench, settings);
    report(dispatch, data, startLoad);
    return 0;
  },
  { timed: true },
);
