import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useProxiedDatabase } from '../support/test-database.js';

// Each case runs the same statements on a session straight to PostgreSQL and
// on one through procgate (on its own database, where our statements are
// recognised) and compares what the client sees.
const t = useProxiedDatabase('fidelity', { statements: true });

let direct: pg.Client;
let proxied: pg.Client;

beforeAll(async () => {
  direct = new pg.Client(t.db.direct);
  proxied = new pg.Client(t.proxy.config(t.db.name));
  await Promise.all([direct.connect(), proxied.connect()]);
  await direct.query('CREATE FUNCTION ctx_f() RETURNS int LANGUAGE sql AS $$ SELECT 1 / 0 $$');
});

afterAll(async () => {
  await Promise.all([direct.end(), proxied.end()]);
});

/** What a client sees of one query: its results or its error, every field of it. */
async function outcome(client: pg.Client, text: string): Promise<unknown> {
  try {
    const result = (await client.query(text)) as pg.QueryResult | pg.QueryResult[];
    return (Array.isArray(result) ? result : [result]).map(({ command, rows, fields }) => ({
      command,
      rows,
      fields: fields.map((field) => field.name),
    }));
  } catch (error) {
    const { name, stack: _stack, ...fields } = error as pg.DatabaseError;
    return { name, ...fields, message: (error as Error).message };
  }
}

/** Runs `texts` on each session in turn and expects the same outcome of each. */
async function expectSameOutcomes(texts: readonly string[]): Promise<void> {
  const expected = [];
  for (const text of texts) expected.push(await outcome(direct, text));
  for (const [index, text] of texts.entries()) {
    expect(await outcome(proxied, text), text).toEqual(expected[index]);
  }
}

describe('pass-through fidelity on the procgate database', () => {
  it('leaves custom settings named procedure.* and procedures.* to PostgreSQL', async () => {
    await expectSameOutcomes([
      "SET procedure.retries = '3'",
      'SHOW procedure.retries',
      "SELECT set_config('procedures.mode', 'fast', false)",
      'SHOW procedures.mode',
      'SHOW procedures . mode',
      'RESET procedure.retries',
      'SHOW procedure.retries',
      'SHOW procedure.missing',
    ]);
  });

  it('reads schema-qualified procedure names whole (a procedure named type)', async () => {
    // In a transaction rolled back, so that both sessions start from the same database.
    await expectSameOutcomes([
      'BEGIN',
      'CREATE SCHEMA probe',
      'CREATE PROCEDURE probe.type() LANGUAGE sql AS $$ SELECT 1 $$',
      'CREATE PROCEDURE "probe" . p(n int) LANGUAGE sql AS $$ SELECT n $$',
      'CALL probe.type()',
      'GRANT EXECUTE ON PROCEDURE probe.p TO PUBLIC',
      'ROLLBACK',
    ]);
  });
});
