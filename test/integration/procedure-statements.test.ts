import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type net from 'node:net';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import type { BackendMessage } from 'pg-protocol/dist/messages.js';
import { Parser } from 'pg-protocol/dist/parser.js';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestDatabase,
  eventually,
  startTestProxy,
  type TestDatabase,
  type TestProxy,
} from '../support/test-database.js';

const execFileAsync = promisify(execFile);

let db: TestDatabase;
let proxy: TestProxy;
let client: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase('statements');
  proxy = await startTestProxy({ statements: db });
  client = new pg.Client(proxy.config(db.name));
  await client.connect();
  await client.query(`
    CREATE TABLE docs (id int PRIMARY KEY, lang text, body text);
    INSERT INTO docs VALUES (1, 'en', 'a b c'), (2, 'de', 'd e'), (3, 'en', 'f');
    CREATE PROCEDURE word_count(docs TABLE, min_len int DEFAULT 2, tag text DEFAULT 'x')
      LANGUAGE command COMMAND 'python3' ARGS ('wc.py')
      FILES ('wc.py' = $py$import sys; print("hello, world")$py$)
      WITH (max_concurrency_per_node = 2);
    CREATE PROCEDURE anything LANGUAGE javascript FILES ('main.js' = 'export default () => 1');
  `);
});

afterAll(async () => {
  await client.end();
  await proxy.close();
  await db.drop();
});

async function psql(sql: string): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await execFileAsync('psql', [proxy.url(db.name), '--no-psqlrc', '-c', sql]);
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const failure = error as { stdout: string; stderr: string; code: number };
    return { stdout: failure.stdout, stderr: failure.stderr, code: failure.code };
  }
}

async function errorOf(
  promise: Promise<unknown>,
): Promise<{ code: string; message: string; position?: string }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (error === undefined) throw new Error('expected an error');
  return error as { code: string; message: string; position?: string };
}

describe('CREATE / SHOW PROCEDURE', () => {
  it('stores procedures and shows them', async () => {
    const shown = await client.query('SHOW PROCEDURES');
    expect(shown.rows.map((row) => row.name).sort()).toEqual(['anything', 'word_count']);
    const one = await client.query('SHOW PROCEDURE word_count');
    expect(one.rows).toHaveLength(1);
    expect(one.rows[0]).toMatchObject({
      name: 'word_count',
      language: 'command',
      command: 'python3',
      args: ['wc.py'],
    });
    const view = await client.query(
      "SELECT execution_mode, owner FROM procgate.procedures WHERE name = 'word_count'",
    );
    expect(view.rows[0]).toEqual({ execution_mode: 'distributed', owner: 'procgate' });
  });

  it('refuses a duplicate with 42723 and replaces with OR REPLACE', async () => {
    expect(await errorOf(client.query("CREATE PROCEDURE anything TYPE 'sql'"))).toMatchObject({
      code: '42723',
    });
    await client.query(
      "CREATE OR REPLACE PROCEDURE anything LANGUAGE javascript EXECUTION MODE NONDISTRIBUTED FILES ('main.js' = '')",
    );
    const row = await client.query(
      "SELECT language, execution_mode FROM procgate.procedures WHERE name = 'anything'",
    );
    expect(row.rows[0]).toEqual({ language: 'javascript', execution_mode: 'nondistributed' });
  });

  it('rejects FILES paths that leave the procedure root with 22023', async () => {
    for (const path of ['/etc/passwd', '../x', 'a/../../x']) {
      const error = await errorOf(
        client.query(`CREATE PROCEDURE bad_files LANGUAGE command COMMAND 'x' FILES ('${path}' = 'y')`),
      );
      expect(error.code, path).toBe('22023');
    }
  });
});

describe('EXECUTE PROCEDURE', () => {
  it('creates a queued run with parameters evaluated by PostgreSQL and typed', async () => {
    const result = await client.query(
      "EXECUTE PROCEDURE word_count(docs => TABLE (SELECT id, body FROM docs WHERE lang = 'en'), min_len => 2 + 1) INTO word_counts WITH (run_tag = 'nightly')",
    );
    expect(result.command).toBe('SELECT');
    expect(result.rows).toHaveLength(1);
    const [run] = result.rows;
    expect(run).toMatchObject({ procedure: 'word_count', state: 'queued', run_tag: 'nightly' });
    const stored = await client.query(
      'SELECT params, input_queries, output_tables FROM procgate.runs WHERE run_id = $1',
      [run.run_id],
    );
    expect(stored.rows[0].params).toMatchObject({
      min_len: { value: 3, type: 'integer' },
      tag: { value: 'x', type: 'text' },
    });
    expect(JSON.stringify(stored.rows[0].input_queries)).toContain(
      "SELECT id, body FROM docs WHERE lang = 'en'",
    );
    expect(stored.rows[0].output_tables).toEqual(['word_counts']);
  });

  it('stores any PostgreSQL expression typed: arrays, json, timestamps, intervals, bytea, subqueries, calls', async () => {
    const result = await client.query(`EXECUTE PROCEDURE anything(
      ints => ARRAY[1, 2, 3], doc => '{"a": [1, 2]}'::jsonb, at => '2024-02-29 12:00+00'::timestamptz,
      wait => interval '90 minutes', blob => decode('00ff10', 'hex'), ok => true, ratio => 1.25,
      biggest => (SELECT max(id) FROM docs), words => upper('abc'), nothing => NULL)`);
    const stored = await client.query('SELECT params FROM procgate.runs WHERE run_id = $1', [result.rows[0].run_id]);
    expect(stored.rows[0].params).toEqual({
      ints: { value: [1, 2, 3], type: 'integer[]' },
      doc: { value: { a: [1, 2] }, type: 'jsonb' },
      at: { value: '2024-02-29T12:00:00+00:00', type: 'timestamp with time zone' },
      wait: { value: '01:30:00', type: 'interval' },
      blob: { value: '\\x00ff10', type: 'bytea' },
      ok: { value: true, type: 'boolean' },
      ratio: { value: 1.25, type: 'numeric' },
      biggest: { value: 3, type: 'integer' },
      words: { value: 'ABC', type: 'text' },
      nothing: { value: null, type: 'text' },
    });
  });

  it('takes $n placeholders in the extended protocol, also inside TABLE (select)', async () => {
    const result = await client.query(
      'EXECUTE PROCEDURE word_count(docs => TABLE (SELECT id FROM docs WHERE lang = $1 AND id > $3), min_len => $2)',
      ['de', 7, 0],
    );
    const stored = await client.query('SELECT params, input_queries FROM procgate.runs WHERE run_id = $1', [
      result.rows[0].run_id,
    ]);
    expect(stored.rows[0].params.min_len).toEqual({ value: 7, type: 'integer' });
    expect(JSON.stringify(stored.rows[0].input_queries)).toContain('"value":"de"');
    expect(JSON.stringify(stored.rows[0].input_queries)).toContain('"value":0');
  });

  it('describes placeholders with the declared parameter types', async () => {
    const sql = postgres(proxy.url(db.name), { max: 1 });
    try {
      const described = await sql
        .unsafe('EXECUTE PROCEDURE word_count(docs => TABLE (docs), min_len => $1, tag => $2)', [], {
          prepare: true,
        })
        .describe();
      expect(described.types).toEqual([23, 25]); // int4, text
      expect(described.columns?.map((column) => column.name)).toContain('run_id');
    } finally {
      await sql.end();
    }
  });

  it('leaves no run behind when the transaction rolls back', async () => {
    const before = await client.query('SELECT count(*)::int AS n FROM procgate.runs');
    await client.query('BEGIN');
    await client.query('EXECUTE PROCEDURE word_count(docs => TABLE (docs))');
    await client.query('ROLLBACK');
    const after = await client.query('SELECT count(*)::int AS n FROM procgate.runs');
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });

  it("keeps PostgreSQL's semantics in a query that mixes our statements with others", async () => {
    const results = (await client.query(
      "SELECT 1 AS a; EXECUTE PROCEDURE anything(x => 'y'); SELECT 2 AS b",
    )) as unknown as pg.QueryResult[];
    expect(results.map((r) => r.command)).toEqual(['SELECT', 'SELECT', 'SELECT']);
    expect(results[1]?.rows[0].state).toBe('queued');
    // An error stops the rest and rolls back the implicit transaction.
    await client.query('CREATE TABLE marks (v int)');
    const error = await errorOf(
      client.query('INSERT INTO marks VALUES (1); EXECUTE PROCEDURE nope(); INSERT INTO marks VALUES (2)'),
    );
    expect(error.code).toBe('42883');
    expect((await client.query('SELECT count(*)::int AS n FROM marks')).rows[0].n).toBe(0);
  });

  it('checks declared parameters: unknown name, missing value, wrong type each name the parameter', async () => {
    const unknown = await errorOf(
      client.query('EXECUTE PROCEDURE word_count(docs => TABLE (docs), colour => 1)'),
    );
    expect(unknown).toMatchObject({ code: '22023' });
    expect(unknown.message).toContain('colour');
    const missing = await errorOf(client.query('EXECUTE PROCEDURE word_count(min_len => 1)'));
    expect(missing).toMatchObject({ code: '22023' });
    expect(missing.message).toContain('docs');
    const wrong = await errorOf(
      client.query("EXECUTE PROCEDURE word_count(docs => TABLE (docs), min_len => 'many')"),
    );
    expect(wrong.code).toMatch(/^22/);
  });

  it('reports an unknown procedure with 42883', async () => {
    expect(await errorOf(client.query('EXECUTE PROCEDURE no_such_procedure()'))).toMatchObject({
      code: '42883',
    });
  });
});

describe('errors point at the right character', () => {
  it('puts the caret of a syntax error of ours under the offending token in psql', async () => {
    const { stderr, code } = await psql("SELECT 1; KILL RUN 'x' 'y'");
    expect(code).not.toBe(0);
    expect(stderr).toContain('ERROR:  syntax error at or near "\'y\'"');
    const lines = stderr.split('\n');
    const line = lines.findIndex((l) => l.startsWith('LINE 1: '));
    expect(lines[line]).toBe("LINE 1: SELECT 1; KILL RUN 'x' 'y'");
    expect(lines[line + 1]?.indexOf('^')).toBe("LINE 1: SELECT 1; KILL RUN 'x' ".length);
  });

  it("maps PostgreSQL's own error inside an argument back to the user's text", async () => {
    const text = 'EXECUTE PROCEDURE word_count(docs => TABLE (SELECT nosuch FROM docs))';
    const error = await errorOf(client.query(text));
    expect(error.code).toBe('42703');
    expect(Number(error.position)).toBe(text.indexOf('nosuch') + 1);
    const { stderr } = await psql(text);
    const lines = stderr.split('\n');
    const line = lines.findIndex((l) => l.startsWith('LINE 1: '));
    // psql shortens long lines with "...", so find the column in the line it printed.
    expect(lines[line + 1]?.indexOf('^')).toBe(lines[line]?.indexOf('nosuch'));
  });

  it('checks PARTITION BY keys at EXECUTE, as the caller, with the caret under the bad key', async () => {
    const text = 'EXECUTE PROCEDURE word_count(docs => TABLE (docs) PARTITION BY (lang, lnag), min_len => 3)';
    const error = await errorOf(client.query(text));
    expect(error.code).toBe('42703');
    expect(error.message).toBe('column "lnag" does not exist');
    expect(Number(error.position)).toBe(text.indexOf('lnag') + 1);
    // A missing comma after the key is our syntax error at the next argument's name.
    const noComma = 'EXECUTE PROCEDURE word_count(docs => TABLE (SELECT * FROM docs) PARTITION BY lang min_len => 3)';
    const syntax = await errorOf(client.query(noComma));
    expect(syntax).toMatchObject({ code: '42601', message: 'syntax error at or near "min_len"' });
    expect(Number(syntax.position)).toBe(noComma.indexOf('min_len') + 1);
    // Nothing was queued by either; a good key still queues its run.
    const before = await client.query("SELECT count(*)::int AS n FROM procgate.runs WHERE procedure = 'word_count'");
    const run = await client.query('EXECUTE PROCEDURE word_count(docs => TABLE (docs) PARTITION BY lang || \'!\')');
    expect(run.rows[0]).toMatchObject({ state: 'queued' });
    const stored = await client.query('SELECT input_queries FROM procgate.runs WHERE run_id = $1', [run.rows[0].run_id]);
    expect(stored.rows[0].input_queries[0].partition_by).toEqual(["lang || '!'"]);
    await client.query('KILL RUN $1', [run.rows[0].run_id]);
    const after = await client.query("SELECT count(*)::int AS n FROM procgate.runs WHERE procedure = 'word_count'");
    expect(after.rows[0].n).toBe(before.rows[0].n + 1);
  });

  it('maps an error to the Parse it belongs to when several are pipelined before one Sync', async () => {
    const raw = new pg.Client(proxy.config(db.name));
    await raw.connect();
    raw.on('error', () => undefined);
    const socket = (raw as unknown as { connection: { stream: net.Socket } }).connection.stream;
    socket.removeAllListeners('data');
    const messages: BackendMessage[] = [];
    const parser = new Parser();
    socket.on('data', (chunk: Buffer) => parser.parse(chunk, (message) => messages.push(message)));
    const ours = "EXECUTE PROCEDURE anything(n => 'abc'::int)";
    // First PostgreSQL's own statement fails: its position is its own, not mapped through ours.
    socket.write(
      Buffer.concat([
        serialize.parse({ name: 'theirs', text: 'SELECT nosuch FROM docs', types: [] }),
        serialize.parse({ name: 'ours', text: ours, types: [] }),
        serialize.sync(),
        serialize.parse({ name: 'ours2', text: 'SELECT 1' }),
        serialize.parse({ name: 'ours3', text: ours, types: [] }),
        serialize.sync(),
      ]),
    );
    await eventually(async () => messages.filter((m) => m.name === 'readyForQuery').length, (n) => n === 2);
    const errors = messages.filter((m) => m.name === 'error') as unknown as Array<{ position: string }>;
    expect(errors.map((e) => Number(e.position))).toEqual([8, ours.indexOf("'abc'") + 1]);
    socket.end(serialize.end());
  });

  it('maps the position of a bad cast in a parameter expression', async () => {
    const text = "EXECUTE PROCEDURE anything(n => 'abc'::int)";
    const error = await errorOf(client.query(text));
    expect(error.code).toBe('22P02');
    expect(Number(error.position)).toBe(text.indexOf("'abc'") + 1);
  });
});

describe('KILL, DROP', () => {
  it('kills a run by id and by procedure and tag', async () => {
    const run = (await client.query('EXECUTE PROCEDURE anything()')).rows[0];
    const killed = await client.query(`KILL RUN '${run.run_id}'`);
    expect(killed.rows).toEqual([{ run_id: run.run_id, state: 'killed' }]);
    await client.query("EXECUTE PROCEDURE anything() WITH (run_tag = 'batch7')");
    await client.query("EXECUTE PROCEDURE anything() WITH (run_tag = 'batch7')");
    const byTag = await client.query("KILL RUNS OF PROCEDURE anything WITH (run_tag = 'batch7')");
    expect(byTag.rows).toHaveLength(2);
    const status = await client.query("SHOW PROCEDURE STATUS WITH (run_tag = 'batch7')");
    expect(status.rows.map((row) => row.state)).toEqual(['killed', 'killed']);
    expect(await errorOf(client.query("KILL RUN 'not-a-uuid'"))).toMatchObject({ code: '22P02' });
  });

  it('drops a procedure, killing its queued runs', async () => {
    await client.query("CREATE PROCEDURE short_lived TYPE 'sql'");
    const run = (await client.query("EXECUTE PROCEDURE short_lived(statements => ARRAY['SELECT 1'])")).rows[0];
    const dropped = await client.query('DROP PROCEDURE short_lived');
    expect(dropped.rows[0]).toMatchObject({ procedure: 'short_lived' });
    const state = await client.query('SELECT state FROM procgate.runs WHERE run_id = $1', [run.run_id]);
    expect(state.rows[0].state).toBe('killed');
    expect(await errorOf(client.query('EXECUTE PROCEDURE short_lived()'))).toMatchObject({ code: '42883' });
  });
});

describe('a session knows its own CREATE and DROP at once', () => {
  it('GRANTs and CALLs a procedure right after creating it, also inside the creating transaction', async () => {
    await client.query("CREATE PROCEDURE fresh TYPE 'sql'");
    expect((await client.query('GRANT EXECUTE ON PROCEDURE fresh TO PUBLIC')).rows[0]).toEqual({
      procedure: 'fresh',
      role: 'public',
    });
    await client.query('BEGIN');
    await client.query("CREATE PROCEDURE in_tx(n int) LANGUAGE command COMMAND 'true'");
    await client.query('GRANT EXECUTE ON PROCEDURE in_tx TO PUBLIC');
    // Recognised as ours: CALL commits and waits for its run, which a transaction block does not allow.
    const inBlock = await errorOf(client.query('CALL in_tx($1)', [5]));
    expect(inBlock).toMatchObject({ code: '25001' });
    expect((inBlock as { hint?: string }).hint).toContain('EXECUTE PROCEDURE');
    await client.query('ROLLBACK');
    await client.query('DROP PROCEDURE fresh');
    // Gone: CALL is PostgreSQL's again, which knows no such procedure.
    expect(await errorOf(client.query('CALL fresh()'))).toMatchObject({ code: '42883' });
  });
});

describe("PostgreSQL's own statements pass through", () => {
  it('native CREATE PROCEDURE, CALL, DROP PROCEDURE, PREPARE/EXECUTE and CREATE TRIGGER ... EXECUTE PROCEDURE', async () => {
    await client.query(`
      CREATE TABLE audit (v int);
      CREATE PROCEDURE native_insert(v int) LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit VALUES (v); END $$;
      CALL native_insert(41);
      CREATE PROCEDURE native_sql(v int) LANGUAGE sql BEGIN ATOMIC INSERT INTO audit VALUES (v); END;
      CALL native_sql(42);
      PREPARE procedure AS SELECT count(*)::int AS n FROM audit;
    `);
    expect((await client.query('EXECUTE procedure')).rows[0].n).toBe(2);
    await client.query(`
      CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.v := NEW.v + 100; RETURN NEW; END $$;
      CREATE TRIGGER bump_audit BEFORE INSERT ON audit FOR EACH ROW EXECUTE PROCEDURE bump();
      INSERT INTO audit VALUES (1);
      DROP PROCEDURE native_insert;
      DROP PROCEDURE native_sql(int);
    `);
    const rows = await client.query('SELECT v FROM audit ORDER BY v');
    expect(rows.rows.map((r) => r.v)).toEqual([41, 42, 101]);
    expect(await errorOf(client.query('CALL native_insert(1)'))).toMatchObject({ code: '42883' });
  });
});
