import { describe, expect, it } from 'vitest';
import { useEngine } from '../support/engine-fixture.js';
import { useProxiedDatabase } from '../support/test-database.js';

const t = useProxiedDatabase('engine_types', { statements: true });

interface RunRow {
  state: string;
  error: string | null;
  segments_total: number | null;
  rows_in: string;
  rows_out: string;
  results: Record<string, unknown> | null;
}

const fixture = useEngine<RunRow>(t);
const { execute, finished, query } = fixture;

describe("TYPE 'transform'", () => {
  it('writes the rows its query computes into the INTO table, one share per segment, inside PostgreSQL', async () => {
    await fixture.client.query(
      'CREATE TABLE readings AS SELECT g AS id, g % 10 AS sensor, g * 1.5 AS value FROM generate_series(1, 3000) g',
    );
    await fixture.client.query("CREATE PROCEDURE scale TYPE 'transform'");
    const runId = await execute(
      `EXECUTE PROCEDURE scale(input => TABLE (SELECT id, sensor, value * 2 AS doubled FROM readings WHERE sensor < $1))
         INTO doubled WITH (segments = 3)`.replace('$1', '5'),
    );
    expect(await finished(runId)).toMatchObject({ state: 'succeeded', segments_total: 3, rows_in: '1500', rows_out: '1500' });
    expect(
      await query(`SELECT (SELECT count(*) FROM (SELECT id, sensor, value * 2 FROM readings WHERE sensor < 5
                                                 EXCEPT ALL SELECT * FROM doubled) d)::int AS missing,
                          (SELECT count(*) FROM doubled)::int AS n`),
    ).toEqual([{ missing: 0, n: 1500 }]);
  });

  it('refuses parameters the type does not have at EXECUTE, and fails a run without INTO', async () => {
    await expect(
      fixture.client.query('EXECUTE PROCEDURE scale(input => TABLE (readings), factor => 2) INTO other'),
    ).rejects.toMatchObject({ code: '22023', message: 'type "transform" has no parameter "factor"' });
    const noInto = await finished(await execute('EXECUTE PROCEDURE scale(input => TABLE (readings))'));
    expect(noInto).toMatchObject({ state: 'failed', error: 'transform needs an INTO table' });
  });
});

describe('a TYPE procedure with a parameter list of its own', () => {
  it('is checked against the type at CREATE: its parameters, their kinds and the required ones', async () => {
    await expect(
      fixture.client.query("CREATE PROCEDURE declared_scale(input TABLE, factor int DEFAULT 2) TYPE 'transform'"),
    ).rejects.toMatchObject({ code: '22023', message: 'type "transform" has no parameter "factor"' });
    await expect(fixture.client.query("CREATE PROCEDURE declared_sql(statements int) TYPE 'sql'")).rejects.toMatchObject({
      code: '22023',
      message: 'parameter "statements" of type "sql" must be text[]',
    });
    await expect(fixture.client.query("CREATE PROCEDURE declared_input(input text) TYPE 'transform'")).rejects.toMatchObject({
      code: '22023',
      message: 'parameter "input" of type "transform" must be TABLE',
    });
    await expect(
      fixture.client.query("CREATE PROCEDURE declared_train(label text DEFAULT 'species') TYPE 'classifier.train'"),
    ).rejects.toMatchObject({ code: '22023', message: 'type "classifier.train" needs parameter "training_data"' });
    // Nothing of them was kept.
    expect(await query("SELECT name FROM procgate.procedures WHERE name LIKE 'declared_%'")).toEqual([]);
  });

  it('runs with the types its list gives, narrower than the type', async () => {
    await fixture.client.query(
      "CREATE PROCEDURE declared_copy(input TABLE, segments_hint smallint DEFAULT 1) TYPE 'transform'",
    ).then(
      () => {
        throw new Error('expected 22023');
      },
      (error: { code?: string }) => expect(error.code).toBe('22023'),
    );
    await fixture.client.query("CREATE PROCEDURE declared_copy(input TABLE) TYPE 'transform'");
    const runId = await execute('EXECUTE PROCEDURE declared_copy(input => TABLE (readings)) INTO declared_copied');
    expect(await finished(runId)).toMatchObject({ state: 'succeeded', rows_out: '3000' });
    await fixture.client.query(
      "CREATE PROCEDURE declared_rows(statements varchar[] DEFAULT ARRAY['SELECT 1 AS one']) TYPE 'sql'",
    );
    expect(await finished(await execute('EXECUTE PROCEDURE declared_rows()'))).toMatchObject({ state: 'succeeded' });
  });
});

describe("TYPE 'sql'", () => {
  it('runs its statements in order as the caller; the last one\'s rows become the results', async () => {
    await fixture.client.query("CREATE PROCEDURE nightly_sql TYPE 'sql' EXECUTION MODE NONDISTRIBUTED");
    const runId = await execute(`EXECUTE PROCEDURE nightly_sql(statements => ARRAY[
        'CREATE TABLE IF NOT EXISTS sql_totals (sensor int, total numeric)',
        'INSERT INTO sql_totals SELECT sensor, sum(value) FROM readings GROUP BY sensor',
        'SELECT sensor, total FROM sql_totals WHERE sensor < 2 ORDER BY sensor'])`);
    const row = await finished(runId);
    expect(row).toMatchObject({
      state: 'succeeded',
      results: {
        '0': {
          statements: 3,
          row_count: 2,
          rows: [
            { sensor: 0, total: 677250 },
            { sensor: 1, total: 673200 },
          ],
        },
      },
    });
  });

  it('stops at the first error; the statements before it stay committed', async () => {
    const runId = await execute(`EXECUTE PROCEDURE nightly_sql(statements => ARRAY[
        'CREATE TABLE sql_kept (n int)',
        'INSERT INTO sql_kept VALUES (1)',
        'INSERT INTO no_such_table VALUES (1)',
        'INSERT INTO sql_kept VALUES (2)'])`);
    const row = await finished(runId);
    expect(row.state).toBe('failed');
    expect(row.error).toMatch(/^statement 3 failed: relation "no_such_table" does not exist/);
    expect(await query('SELECT n FROM sql_kept')).toEqual([{ n: 1 }]);
  });

  it("runs as the caller: a statement the caller may not run fails with PostgreSQL's error", async () => {
    await fixture.client.query("CREATE ROLE types_user LOGIN PASSWORD 'pw'");
    await fixture.client.query('CREATE TABLE sql_private (secret text)');
    await fixture.client.query('GRANT EXECUTE ON PROCEDURE nightly_sql TO types_user');
    await fixture.client.query('SET ROLE types_user');
    let runId: string;
    try {
      runId = await execute(`EXECUTE PROCEDURE nightly_sql(statements => ARRAY['SELECT * FROM sql_private'])`);
    } finally {
      await fixture.client.query('RESET ROLE');
    }
    const row = await finished(runId);
    expect(row.state).toBe('failed');
    expect(row.error).toMatch(/permission denied for table sql_private/);
  });

  it('refuses an EXECUTE without statements', async () => {
    await expect(fixture.client.query('EXECUTE PROCEDURE nightly_sql()')).rejects.toMatchObject({
      code: '22023',
      message: 'type "sql" needs parameter "statements"',
    });
  });
});

describe('an unknown type', () => {
  it('is refused at CREATE', async () => {
    await expect(fixture.client.query("CREATE PROCEDURE not_yet TYPE 'no.such.type'")).rejects.toMatchObject({
      code: '42704',
      message: 'procedure type "no.such.type" does not exist',
    });
  });
});

describe('a nondistributed procedure of a built-in type', () => {
  it('reads all of its TABLE input, PARTITION BY or not, in one segment', async () => {
    await fixture.client.query("CREATE PROCEDURE copy_once TYPE 'transform' EXECUTION MODE NONDISTRIBUTED");
    const runId = await execute(
      'EXECUTE PROCEDURE copy_once(input => TABLE (SELECT id, sensor FROM readings) PARTITION BY sensor) INTO copied_once',
    );
    expect(await finished(runId)).toMatchObject({ state: 'succeeded', segments_total: 1, rows_out: '3000' });
  });
});
