import pg from 'pg';

const client = new pg.Client(process.env.PROCGATE_URL);
await client.connect();
// $1 and $2 travel as parameters, the one inside TABLE (...) too.
const { rows: [run] } = await client.query(
  `EXECUTE PROCEDURE sensor_stats(readings => TABLE (SELECT * FROM readings WHERE reading > $1) PARTITION BY sensor,
                                  scale => $2) INTO sensor_summary`,
  [10, 2],
);
// EXECUTE PROCEDURE returns the queued run at once: poll procgate.runs until it ends.
let { state } = run;
while (state === 'queued' || state === 'running') {
  await new Promise((resolve) => setTimeout(resolve, 100));
  ({ rows: [{ state }] } = await client.query('SELECT state FROM procgate.runs WHERE run_id = $1', [run.run_id]));
}
console.log(`run ${run.run_id}: ${state}`);
await client.end();
