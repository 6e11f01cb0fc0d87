import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { useEngine } from '../support/engine-fixture.js';
import { useProxiedDatabase } from '../support/test-database.js';

const execFileAsync = promisify(execFile);

/*
 * WITH (data_format = 'binary'): a command program's table files in
 * PostgreSQL's binary COPY format, both ways.
 */

const t = useProxiedDatabase('engine_binary_data', { statements: true });
const fixture = useEngine<{ run_id: string; state: string; error: string | null; rows_out: string }>(t);
const scratch = mkdtempSync(path.join(tmpdir(), 'procgate-binary-'));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Checks that the control file says binary, then copies each input file to its output file. */
const BINARY_IDENTITY = `
import json, os, shutil, sys
control = json.load(open(os.environ['PROCGATE_CONTROL_FILE']))
for table in control['inputs'] + control['outputs']:
    if table['format'] != 'binary' or table['header'] or not table['path'].endswith('.bin'):
        sys.exit('not binary: ' + json.dumps(table))
for source, target in zip(control['inputs'], control['outputs']):
    shutil.copyfile(source['path'], target['path'])
`;

/** The sql block of docs/procedures.md's "Binary files". */
function docsExample(): string {
  const docs = readFileSync('docs/procedures.md', 'utf8');
  const section = docs.slice(docs.indexOf('\n### Binary files\n'));
  const example = /```sql\n([\s\S]*?)```/.exec(section)?.[1];
  if (example === undefined) throw new Error('no example in "Binary files"');
  return example;
}

describe('binary table files for command programs', () => {
  it('refuses a data_format other than csv or binary, and on a language other than command (22023)', async () => {
    await expect(
      fixture.client.query(`CREATE PROCEDURE bad_format LANGUAGE command COMMAND 'true' WITH (data_format = 'arrow')`),
    ).rejects.toMatchObject({ code: '22023', message: 'invalid value for option "data_format": "arrow"' });
    await expect(
      fixture.client.query(
        `CREATE PROCEDURE js_format LANGUAGE javascript FILES ('index.js' = 'export default () => {}')
           WITH (data_format = 'binary')`,
      ),
    ).rejects.toMatchObject({ code: '22023', message: 'procedure "js_format": option data_format is only for language command' });
  });

  it('round-trips every value of many types through a program, NULLs included', async () => {
    await fixture.client.query(`
      CREATE TABLE typed AS
        SELECT g AS i, g::bigint * 1000003 AS big, 'w' || g AS label, round(g * 1.2345, 4)::numeric AS amount,
               timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second' AS at, g / 3.0::float8 AS ratio,
               g % 2 = 0 AS even, convert_to('b' || g, 'UTF8') AS raw, ARRAY[g, g + 1] AS pair,
               jsonb_build_object('g', g) AS doc
          FROM generate_series(1, 2000) g
        UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL`);
    await fixture.client.query(
      `CREATE PROCEDURE binary_identity LANGUAGE command COMMAND 'python3' ARGS ('identity.py')
         FILES ('identity.py' = $1) WITH (data_format = 'binary')`,
      [BINARY_IDENTITY],
    );
    const runId = await fixture.execute(
      'EXECUTE PROCEDURE binary_identity(typed => TABLE (typed)) INTO typed_copy WITH (segments = 3)',
    );
    expect(await fixture.finished(runId)).toMatchObject({ state: 'succeeded', rows_out: '2001' });
    const { rows } = await fixture.client.query<{ missing: number; extra: number }>(`
      SELECT (SELECT count(*) FROM (SELECT * FROM typed EXCEPT ALL SELECT * FROM typed_copy) d)::int AS missing,
             (SELECT count(*) FROM (SELECT * FROM typed_copy EXCEPT ALL SELECT * FROM typed) d)::int AS extra`);
    expect(rows).toEqual([{ missing: 0, extra: 0 }]);
  });

  it('runs the example of docs/procedures.md as written: a python3 program reading and writing binary COPY', async () => {
    const file = path.join(scratch, 'example.sql');
    writeFileSync(file, docsExample());
    await execFileAsync('psql', [t.proxy.url(t.db.name), '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', file], {
      env: { ...process.env, PGOPTIONS: '-c client_min_messages=warning' },
    });
    const { rows } = await fixture.client.query('SELECT * FROM word_lengths ORDER BY id');
    expect(rows).toEqual([
      { id: 1, word: 'procgate', length: 8 },
      { id: 2, word: null, length: null },
      { id: 3, word: 'año', length: 3 },
    ]);
  });
});
