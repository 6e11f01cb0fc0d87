/** bench:ml's scoring group: the model's SQL function straight to PostgreSQL against model.apply through procgate. */
import { performance } from 'node:perf_hooks';
import { progress } from '../support/settings.js';
import { execute, FEATURE_NAMES, loadSynthetic, type MlBench, MODEL, SEED, SEGMENTS, type Settings } from './setup.js';

export interface Scoring {
  readonly rows: number;
  readonly selectMs: number;
  readonly insertMs: number;
  readonly applyMs: number;
  readonly applyRows: number;
}

export async function scoringPhase(bench: MlBench, settings: Settings): Promise<Scoring> {
  await loadSynthetic(bench, 'score_data', settings.scoreRows, SEED + 1);
  const call = `procgate_models.${MODEL}(${FEATURE_NAMES.join(', ')})`;
  progress(`scoring ${String(settings.scoreRows)} rows: plain SELECT`);
  let started = performance.now();
  const counted = await bench.direct.query<{ n: string }>(`SELECT count(${call}) AS n FROM score_data`);
  const selectMs = performance.now() - started;
  if (Number(counted.rows[0]?.n) !== settings.scoreRows) throw new Error(`SELECT scored ${counted.rows[0]?.n ?? '?'} rows`);
  progress('  INSERT INTO ... SELECT');
  await bench.direct.query(`CREATE TABLE scored_direct (LIKE score_data, prediction text)`);
  await bench.direct.query('CHECKPOINT');
  started = performance.now();
  await bench.direct.query(`INSERT INTO scored_direct SELECT *, ${call} FROM score_data`);
  const insertMs = performance.now() - started;
  progress(`  model.apply WITH (segments = ${String(SEGMENTS)})`);
  await bench.client.query(`CREATE PROCEDURE bench_score TYPE 'model.apply'`);
  await bench.direct.query('CHECKPOINT');
  const run = await execute(
    bench,
    `EXECUTE PROCEDURE bench_score(model_name => '${MODEL}', input => TABLE (score_data))
       INTO scored_apply WITH (segments = ${String(SEGMENTS)})`,
    'model.apply',
  );
  const { rows } = await bench.direct.query<{ n: string }>('SELECT count(*) AS n FROM scored_apply');
  const applyRows = Number(rows[0]?.n);
  const differ = await bench.direct.query<{ n: string }>(
    `SELECT count(*) AS n FROM (SELECT * FROM scored_direct EXCEPT ALL SELECT ${FEATURE_NAMES.join(', ')}, label, prediction FROM scored_apply) d`,
  );
  if (Number(differ.rows[0]?.n) !== 0) throw new Error(`model.apply and the INSERT differ in ${differ.rows[0]?.n ?? '?'} rows`);
  return { rows: settings.scoreRows, selectMs, insertMs, applyMs: run.finishedMs - run.sentMs, applyRows };
}
