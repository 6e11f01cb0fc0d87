import postgres from 'postgres';

const sql = postgres(process.env.PROCGATE_URL, { onnotice: (notice) => console.log(notice.message) });
// CALL waits for the run (its progress arrives as NOTICEs) and returns it.
const [run] = await sql`
  CALL sensor_stats(readings => TABLE (readings) PARTITION BY sensor, scale => ${3}) INTO sensor_summary`;
console.log(`run ${run.run_id}: ${run.state}`, run.results);
await sql.end();
