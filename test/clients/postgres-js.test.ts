import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { procgate } from './support/client-session.js';

// Default options: extended protocol with named prepared statements, reused per query text.
const sql = postgres(procgate().url, { max: 2, onnotice: () => undefined });
afterAll(() => sql.end());

interface RunRow {
  run_id: string;
  procedure: string;
  state: string;
  rows_out: string;
  results: Record<string, unknown> | null;
}

async function finished(runId: string): Promise<RunRow> {
  for (let attempt = 0; attempt < 600; attempt += 1) {
    const [run] = await sql<RunRow[]>`
      SELECT run_id, procedure, state, rows_out, results FROM procgate.runs WHERE run_id = ${runId}`;
    if (run !== undefined && ['succeeded', 'failed', 'killed'].includes(run.state)) return run;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`run ${runId} did not end`);
}

describe('postgres.js through procgate serve', () => {
  it('creates a procedure and executes it through tagged templates, a TABLE(select) with a parameter included', async () => {
    await sql`CREATE TABLE pgjs_orders (id int, region text, amount numeric)`;
    await sql`INSERT INTO pgjs_orders ${sql([
      { id: 1, region: 'north', amount: 10 },
      { id: 2, region: 'south', amount: 25 },
      { id: 3, region: 'north', amount: 40 },
      { id: 4, region: 'south', amount: 5 },
    ])}`;
    await sql`
      CREATE PROCEDURE pgjs_totals(orders TABLE, scale int DEFAULT 1)
        LANGUAGE javascript
        RETURNS TABLE (region text, total numeric)
        FILES ('main.js' = $js$
export default async (ctx) => {
  if (ctx.params.scale < 0) throw new Error('scale must not be negative');
  const totals = new Map();
  for await (const row of ctx.inputs.orders) totals.set(row.region, (totals.get(row.region) ?? 0) + Number(row.amount));
  for (const [region, total] of totals) await ctx.outputs[0].write({ region, total: total * ctx.params.scale });
};
$js$)`;
    // Each ${value} is a parameter of a prepared statement, the one inside TABLE (...) too.
    const minimum = 6;
    const scale = 10;
    const [run] = await sql<RunRow[]>`
      EXECUTE PROCEDURE pgjs_totals(
        orders => TABLE (SELECT region, amount FROM pgjs_orders WHERE amount >= ${minimum}) PARTITION BY region,
        scale => ${scale})
      INTO pgjs_region_totals WITH (run_tag = 'postgres.js')`;
    expect(run).toMatchObject({ procedure: 'pgjs_totals', state: 'queued' });
    expect((await finished(run!.run_id)).state).toBe('succeeded');
    const totals = await sql`SELECT region, total::int AS total FROM pgjs_region_totals ORDER BY region`;
    expect(totals.map((row) => ({ ...row }))).toEqual([
      { region: 'north', total: 500 },
      { region: 'south', total: 250 },
    ]);
  });

  it('reuses its prepared statement for the same EXECUTE PROCEDURE text', async () => {
    const runIds: string[] = [];
    for (const scale of [1, 2, 3]) {
      const [run] = await sql<RunRow[]>`
        EXECUTE PROCEDURE pgjs_totals(orders => TABLE (pgjs_orders), scale => ${scale}) INTO pgjs_reused`;
      runIds.push(run!.run_id);
    }
    const states = await Promise.all(runIds.map(async (runId) => (await finished(runId)).state));
    expect(states).toEqual(['succeeded', 'succeeded', 'succeeded']);
    const [sum] = await sql<{ total: number }[]>`SELECT sum(total)::int AS total FROM pgjs_reused`;
    // 80 in all, at scales 1, 2 and 3.
    expect(sum?.total).toBe(480);
  });

  it('waits with CALL and gets the finished run, and reports a failed one as 38000', async () => {
    const [called] = await sql<RunRow[]>`
      CALL pgjs_totals(orders => TABLE (SELECT * FROM pgjs_orders WHERE id = ${1})) INTO pgjs_called`;
    expect(called).toMatchObject({ procedure: 'pgjs_totals', state: 'succeeded' });
    const error = await sql`CALL pgjs_totals(orders => TABLE (pgjs_orders), scale => ${-1}) INTO pgjs_called`.then(
      () => undefined,
      (caught: { code?: string; where?: string }) => caught,
    );
    expect(error).toMatchObject({ code: '38000', message: expect.stringContaining('scale must not be negative') });
    expect(error?.where).toBeUndefined();
  });

  it('reads procgate.runs with its types: uuid and text as strings, timestamptz as Date, jsonb parsed', async () => {
    const rows = await sql<{ run_id: string; created_at: Date; params: Record<string, unknown> }[]>`
      SELECT run_id, created_at, params FROM procgate.runs WHERE run_tag = ${'postgres.js'}`;
    expect(rows).toHaveLength(1);
    expect(rows[0]!.created_at).toBeInstanceOf(Date);
    expect(rows[0]!.params).toEqual({ scale: { type: 'integer', value: 10 } });
  });
});
