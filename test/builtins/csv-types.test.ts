import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useEngine } from '../support/engine-fixture.js';
import { useProxiedDatabase } from '../support/test-database.js';

const t = useProxiedDatabase('engine_csv', { statements: true });

interface RunRow {
  state: string;
  error: string | null;
  rows_in: string | null;
  rows_out: string | null;
  results: Record<string, Record<string, unknown> | null> | null;
}

// The files directory, and a directory beside it that a link can point into.
const base = mkdtempSync(path.join(tmpdir(), 'procgate-csv-'));
const filesDir = path.join(base, 'files');
const elsewhere = path.join(base, 'elsewhere');
mkdirSync(filesDir);
mkdirSync(elsewhere);
afterAll(() => rmSync(base, { recursive: true, force: true }));

const fixture = useEngine<RunRow>(t, { filesDir });
const { execute, finished, query } = fixture;

function file(name: string, content: string): void {
  writeFileSync(path.join(filesDir, name), content);
}

async function run(statement: string): Promise<RunRow> {
  return finished(await execute(statement));
}

describe("TYPE 'export.csv' and 'import.csv'", () => {
  it('round-trips a table: exported, then imported, it is the same table', async () => {
    await fixture.client.query(`CREATE TABLE people (id int, name text, note text, score numeric)`);
    await fixture.client.query(`INSERT INTO people
      SELECT g, 'person ' || g, CASE WHEN g % 3 = 0 THEN NULL WHEN g % 3 = 1 THEN E'two\\nlines, "quoted"' ELSE '' END, g / 7.0
        FROM generate_series(1, 500) g`);
    await fixture.client.query("CREATE PROCEDURE save_csv TYPE 'export.csv'");
    await fixture.client.query("CREATE PROCEDURE load_csv TYPE 'import.csv'");
    const exported = await run(
      "EXECUTE PROCEDURE save_csv(input => TABLE (SELECT * FROM people ORDER BY id), path => 'people.csv') WITH (segments = 3)",
    );
    expect(exported).toMatchObject({ state: 'succeeded', rows_out: '500' });
    expect(exported.results?.['0']).toEqual({ path: 'people.csv', rows: 500 });
    const text = readFileSync(path.join(filesDir, 'people.csv'), 'utf8');
    expect(text.split('\n')[0]).toBe('id,name,note,score');

    await fixture.client.query('CREATE TABLE people_back (LIKE people)');
    const imported = await run("EXECUTE PROCEDURE load_csv(path => 'people.csv') INTO people_back WITH (segments = 2)");
    expect(imported).toMatchObject({ state: 'succeeded', rows_out: '500' });
    expect(
      await query(`SELECT (SELECT count(*) FROM (SELECT * FROM people EXCEPT ALL SELECT * FROM people_back) d)::int AS missing,
                          (SELECT count(*) FROM (SELECT * FROM people_back EXCEPT ALL SELECT * FROM people) d)::int AS extra,
                          (SELECT count(*) FROM people_back WHERE note IS NULL)::int AS nulls`),
    ).toEqual([{ missing: 0, extra: 0, nulls: 166 }]);
  });

  it('reads and writes without a header, with another delimiter, quote and null string', async () => {
    file('semi.csv', "1;'a;b';NA\n2;NA;'it''s'\n3;'';x\n");
    await fixture.client.query('CREATE TABLE semi (n int, a text, b text)');
    const imported = await run(`EXECUTE PROCEDURE load_csv(path => 'semi.csv', header => false, delimiter => ';',
                                  quote => '''', null_string => 'NA') INTO semi`);
    expect(imported).toMatchObject({ state: 'succeeded', rows_out: '3' });
    expect(await query('SELECT * FROM semi ORDER BY n')).toEqual([
      { n: 1, a: 'a;b', b: null },
      { n: 2, a: null, b: "it's" },
      { n: 3, a: '', b: 'x' },
    ]);
    const exported = await run(`EXECUTE PROCEDURE save_csv(input => TABLE (SELECT * FROM semi ORDER BY n), path => 'semi-out.csv',
                                  header => false, delimiter => '|', null_string => 'NULL')`);
    expect(exported.state).toBe('succeeded');
    expect(readFileSync(path.join(filesDir, 'semi-out.csv'), 'utf8')).toBe('1|a;b|NULL\n2|NULL|it\'s\n3||x\n');
  });

  it('creates a missing INTO table from the header, as the caller, every column text', async () => {
    file('fresh.csv', 'id,"Full Name",note,\n1,"Smith, Ann",007,\n2,Bo,,\n');
    const runId = await execute("EXECUTE PROCEDURE load_csv(path => 'fresh.csv') INTO fresh");
    expect(await finished(runId)).toMatchObject({ state: 'succeeded', rows_out: '2', error: null });
    // An empty header field is named by its position; values are kept exactly as the file has them.
    expect(
      await query(`SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum) AS columns,
                          (SELECT tableowner FROM pg_tables WHERE tablename = 'fresh') = current_user AS callers
                     FROM pg_attribute a WHERE a.attrelid = 'fresh'::regclass AND a.attnum > 0`),
    ).toEqual([{ columns: 'id text, Full Name text, note text, column4 text', callers: true }]);
    expect(await query('SELECT * FROM fresh ORDER BY id')).toEqual([
      { id: '1', 'Full Name': 'Smith, Ann', note: '007', column4: null },
      { id: '2', 'Full Name': 'Bo', note: null, column4: null },
    ]);

    file('headless.csv', '1;x\n2;y\n');
    const headless = await run("EXECUTE PROCEDURE load_csv(path => 'headless.csv', header => false, delimiter => ';') INTO headless");
    expect(headless).toMatchObject({ state: 'succeeded', rows_out: '2' });
    expect(await query('SELECT * FROM headless ORDER BY column1')).toEqual([
      { column1: '1', column2: 'x' },
      { column1: '2', column2: 'y' },
    ]);
  });

  it("creates the missing table with the caller's rights: no CREATE on the schema, no table", async () => {
    await fixture.client.query(`DO $$ BEGIN CREATE ROLE csv_maker; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    await fixture.client.query('GRANT EXECUTE ON PROCEDURE load_csv TO csv_maker');
    file('made.csv', 'n\n1\n');
    const asMaker = async (): Promise<string> => {
      await fixture.client.query('SET ROLE csv_maker');
      try {
        return await execute("EXECUTE PROCEDURE load_csv(path => 'made.csv') INTO made_by_maker");
      } finally {
        await fixture.client.query('RESET ROLE');
      }
    };
    const refusedId = await asMaker();
    expect(await finished(refusedId)).toMatchObject({ state: 'failed', error: expect.stringMatching(/permission denied for schema public/) });
    expect(await query('SELECT procgate.run_error_code($1) AS code', [refusedId])).toEqual([{ code: '42501' }]);
    await fixture.client.query('GRANT CREATE ON SCHEMA public TO csv_maker');
    expect(await finished(await asMaker())).toMatchObject({ state: 'succeeded', rows_out: '1' });
    expect(await query("SELECT tableowner FROM pg_tables WHERE tablename = 'made_by_maker'")).toEqual([{ tableowner: 'csv_maker' }]);
  });

  it('fails clearly, with a SQLSTATE, when a missing INTO table cannot be made from the file', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['nowhere.csv', '58P01', /file "nowhere.csv" does not exist in --files-dir/],
      ['empty.csv', '22P04', /file "empty.csv" is empty/],
      ['twice.csv', '42701', /column "a" specified more than once/],
    ];
    file('empty.csv', '');
    file('twice.csv', 'a,a\n1,2\n');
    for (const [name, code, message] of cases) {
      const runId = await execute(`EXECUTE PROCEDURE load_csv(path => '${name}') INTO never_made`);
      const row = await finished(runId);
      expect(row, name).toMatchObject({ state: 'failed', error: expect.stringMatching(message) });
      expect(await query('SELECT procgate.run_error_code($1) AS code', [runId]), name).toEqual([{ code }]);
    }
    expect(await query("SELECT to_regclass('never_made') AS t")).toEqual([{ t: null }]);
    // A later line with more fields than the header fails the load with PostgreSQL's message and its line.
    file('ragged.csv', 'a,b\n1,2\n3,4,5\n');
    const ragged = await run("EXECUTE PROCEDURE load_csv(path => 'ragged.csv') INTO ragged");
    expect(ragged).toMatchObject({ state: 'failed', error: expect.stringMatching(/extra data after last expected column.*ragged\.csv, line 3/) });
  });

  it('stops after `limit` data lines (a quoted newline stays inside its line), and exports at most `limit` rows', async () => {
    file('many.csv', 'n,t\n1,"one\ntwo"\n2,b\n3,c\n4,d\n');
    await fixture.client.query('CREATE TABLE limited (n int, t text)');
    const imported = await run("EXECUTE PROCEDURE load_csv(path => 'many.csv', limit => 2) INTO limited");
    expect(imported).toMatchObject({ state: 'succeeded', rows_out: '2' });
    expect(await query('SELECT * FROM limited ORDER BY n')).toEqual([
      { n: 1, t: 'one\ntwo' },
      { n: 2, t: 'b' },
    ]);
    const exported = await run(
      "EXECUTE PROCEDURE save_csv(input => TABLE (SELECT * FROM people ORDER BY id), path => 'first.csv', limit => 5)",
    );
    expect(exported).toMatchObject({ state: 'succeeded', rows_out: '5' });
    expect(readFileSync(path.join(filesDir, 'first.csv'), 'utf8').match(/^\d+,person /gm)).toHaveLength(5);
  });

  it('with ignore_bad_lines leaves out bad lines, counts them and lists their line numbers in run_output', async () => {
    file('bad.csv', 'n,t\n1,a\nx,b\n2,"multi\nline"\n3,c,extra\n4\n5,e\n"6,unclosed\n');
    await fixture.client.query('CREATE TABLE tolerant (n int, t text)');
    const runId = await execute("EXECUTE PROCEDURE load_csv(path => 'bad.csv', ignore_bad_lines => true) INTO tolerant");
    const row = await finished(runId);
    expect(row).toMatchObject({ state: 'succeeded', rows_out: '3' });
    expect(row.results?.['0']).toEqual({ path: 'bad.csv', lines_read: 7, bad_lines: 4 });
    expect(await query('SELECT * FROM tolerant ORDER BY n')).toEqual([
      { n: 1, t: 'a' },
      { n: 2, t: 'multi\nline' },
      { n: 5, t: 'e' },
    ]);
    const lines = await query<{ line: string }>(
      "SELECT line FROM procgate.run_output WHERE run_id = $1 AND stream = 'stderr' ORDER BY line_no",
      [runId],
    );
    expect(lines.map((line) => line.line)).toEqual([
      'line 3: column "n": "x" is not a value of its type',
      'line 6: 3 fields where 2 were expected',
      'line 7: 1 fields where 2 were expected',
      'line 9: a quoted field is not closed before the end of the file',
    ]);
  });

  it("without ignore_bad_lines fails at the first bad line with PostgreSQL's message and the file's line", async () => {
    file('strict.csv', 'n,t\n1,"multi\nline"\nx,b\n');
    await fixture.client.query('CREATE TABLE strict (n int, t text)');
    const row = await run("EXECUTE PROCEDURE load_csv(path => 'strict.csv') INTO strict");
    expect(row.state).toBe('failed');
    expect(row.error).toMatch(/invalid input syntax for type integer: "x".*strict\.csv, line 4, column n/);
    expect(await query('SELECT count(*)::int AS n FROM strict')).toEqual([{ n: 0 }]);
  });

  it('refuses paths outside --files-dir: .., an absolute path, a symbolic link out', async () => {
    writeFileSync(path.join(elsewhere, 'secret.csv'), 'n,t\n1,a\n');
    symlinkSync(path.join(elsewhere, 'secret.csv'), path.join(filesDir, 'link.csv'));
    symlinkSync(elsewhere, path.join(filesDir, 'linkdir'));
    await fixture.client.query('CREATE TABLE stolen (n int, t text)');
    const given = ['../elsewhere/secret.csv', path.join(elsewhere, 'secret.csv'), 'link.csv', 'linkdir/secret.csv'];
    for (const name of given) {
      const row = await run(`EXECUTE PROCEDURE load_csv(path => '${name}') INTO stolen`);
      expect(row, name).toMatchObject({ state: 'failed' });
      expect(row.error, name).toMatch(/permission denied: path ".*" is outside --files-dir \(42501\)/);
    }
    for (const name of ['../elsewhere/out.csv', 'linkdir/out.csv', path.join(elsewhere, 'out.csv')]) {
      const row = await run(`EXECUTE PROCEDURE save_csv(input => TABLE (SELECT 1), path => '${name}')`);
      expect(row.error, name).toMatch(/permission denied: path ".*" is outside --files-dir \(42501\)/);
    }
    const linked = await run("EXECUTE PROCEDURE save_csv(input => TABLE (SELECT 1), path => 'link.csv', overwrite => true)");
    expect(linked.error).toMatch(/permission denied: path "link.csv" is outside --files-dir/);
    expect(readFileSync(path.join(elsewhere, 'secret.csv'), 'utf8')).toBe('n,t\n1,a\n');
    expect(await query('SELECT count(*)::int AS n FROM stolen')).toEqual([{ n: 0 }]);
    // CALL raises it with PostgreSQL's SQLSTATE for a permission denied.
    await expect(fixture.client.query("CALL load_csv(path => '../elsewhere/secret.csv') INTO stolen")).rejects.toMatchObject({
      code: '42501',
      message: expect.stringContaining('is outside --files-dir'),
    });
  });

  it('refuses to overwrite a file unless overwrite => true', async () => {
    file('kept.csv', 'old\n');
    const refused = await run("EXECUTE PROCEDURE save_csv(input => TABLE (SELECT 1 AS x), path => 'kept.csv')");
    expect(refused).toMatchObject({ state: 'failed' });
    expect(refused.error).toMatch(/file "kept.csv" exists/);
    expect(readFileSync(path.join(filesDir, 'kept.csv'), 'utf8')).toBe('old\n');
    const replaced = await run(
      "EXECUTE PROCEDURE save_csv(input => TABLE (SELECT 1 AS x), path => 'kept.csv', overwrite => true)",
    );
    expect(replaced.state).toBe('succeeded');
    expect(readFileSync(path.join(filesDir, 'kept.csv'), 'utf8')).toBe('x\n1\n');
  });

  it('fails a missing file, and options it cannot use', async () => {
    const missingId = await execute("EXECUTE PROCEDURE load_csv(path => 'nope.csv') INTO stolen");
    const missing = await finished(missingId);
    expect(missing.error).toMatch(/file "nope.csv" does not exist in --files-dir/);
    // PostgreSQL's undefined_file, as COPY FROM a missing file gives; CALL raises it with that SQLSTATE.
    expect(await query('SELECT procgate.run_error_code($1) AS code', [missingId])).toEqual([{ code: '58P01' }]);
    await expect(fixture.client.query("CALL load_csv(path => 'nope.csv') INTO stolen")).rejects.toMatchObject({
      code: '58P01',
      message: expect.stringContaining('file "nope.csv" does not exist in --files-dir'),
    });
    const noDirectory = await execute("EXECUTE PROCEDURE save_csv(input => TABLE (SELECT 1), path => 'no/such/dir.csv')");
    expect(await finished(noDirectory)).toMatchObject({ error: expect.stringMatching(/the directory of "no\/such\/dir.csv" does not exist/) });
    expect(await query('SELECT procgate.run_error_code($1) AS code', [noDirectory])).toEqual([{ code: '58P01' }]);
    const delimiter = await run("EXECUTE PROCEDURE load_csv(path => 'semi.csv', delimiter => ';;') INTO stolen");
    expect(delimiter.error).toMatch(/parameter "delimiter" must be one ASCII character/);
  });
});
