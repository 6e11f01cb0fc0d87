import { describe, expect, it } from 'vitest';
import type { ProcedureCatalog, ProcedureInfo } from '../../src/sql/procedure-catalog.js';
import { ERROR_MARKER, rewriteQuery } from '../../src/sql/rewrite-query.js';

const procedures: Record<string, ProcedureInfo> = {
  word_count: {
    parameters: [
      { name: 'docs', type: null, table: true },
      { name: 'min_len', type: 'integer', table: false },
      { name: 'lang', type: 'text', table: false },
    ],
  },
  free: { parameters: null },
};
const catalog: ProcedureCatalog = { lookup: (name) => procedures[name] };

function rewrite(text: string): string {
  const result = rewriteQuery(text, { catalog });
  return result.kind === 'passthrough' ? 'passthrough' : result.text;
}

describe('rewriteQuery: golden rewrites', () => {
  it('leaves PostgreSQL statements alone', () => {
    for (const text of [
      'SELECT 1',
      'CREATE PROCEDURE p(a int) LANGUAGE plpgsql AS $$ BEGIN END $$',
      'CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC SELECT 1; END',
      'CALL native_proc(1)',
      'DROP PROCEDURE native_proc',
      'DROP PROCEDURE word_count(int)',
      'EXECUTE procedure',
      'EXECUTE procedure(1)',
      'PREPARE s AS SELECT 1; EXECUTE s',
      'CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW EXECUTE PROCEDURE f()',
      'GRANT EXECUTE ON PROCEDURE native_proc TO alice',
      'SHOW search_path',
      // Custom settings and schema-qualified names are read whole.
      'SHOW procedure.retries',
      'SHOW procedures . retries',
      'CREATE PROCEDURE probe.type() LANGUAGE sql AS $$ SELECT 1 $$',
      'CREATE PROCEDURE "probe" . type(a int) LANGUAGE sql AS $$ SELECT 1 $$',
      'GRANT EXECUTE ON PROCEDURE free.x TO alice',
    ]) {
      expect(rewrite(text), text).toBe('passthrough');
    }
  });

  it('CREATE PROCEDURE', () => {
    expect(
      rewrite(
        "CREATE PROCEDURE wc(docs TABLE, min_len int DEFAULT 2) LANGUAGE command COMMAND 'python3' ARGS ('wc.py') FILES ('wc.py' = $py$print(1)$py$) WITH (min_len = '3', max_concurrency_per_node = 1)",
      ),
    ).toMatchInlineSnapshot(
      `"SELECT * FROM procgate.create_procedure(name => 'wc', or_replace => false, language => 'command', type_name => NULL, command => 'python3', args => ARRAY['wc.py']::text[], execution_mode => NULL, parameters => ARRAY[procgate.param('docs', NULL::regtype, true, false, NULL), procgate.param('min_len', pg_typeof(NULL::int), false, true, to_jsonb((2)::int))]::procgate.param_def[], files => ARRAY[procgate.file('wc.py', $py$print(1)$py$)]::procgate.file_value[], returns => NULL, options => ARRAY[procgate.arg('min_len', NULL, ('3')::int), procgate.arg('max_concurrency_per_node', NULL, (1))]::procgate.arg_value[])"`,
    );
    expect(
      rewrite(
        "CREATE OR REPLACE PROCEDURE t TYPE 'sql' EXECUTION MODE NONDISTRIBUTED RETURNS TABLE (n bigint)",
      ),
    ).toMatchInlineSnapshot(
      `"SELECT * FROM procgate.create_procedure(name => 't', or_replace => true, language => 'type', type_name => 'sql', command => NULL, args => ARRAY[]::text[], execution_mode => 'nondistributed', parameters => NULL, files => ARRAY[]::procgate.file_value[], returns => ARRAY[procgate.column('n', pg_typeof(NULL::bigint))]::procgate.column_def[], options => ARRAY[]::procgate.arg_value[])"`,
    );
  });

  it('EXECUTE PROCEDURE with declared types, table arguments and placeholders', () => {
    expect(
      rewrite(
        "EXECUTE PROCEDURE word_count(docs => TABLE (SELECT id, body FROM docs WHERE lang = $1) PARTITION BY lang, min_len => $2, lang => 'en') INTO out WITH (run_tag = 'nightly')",
      ),
    ).toMatchInlineSnapshot(
      `"SELECT * FROM procgate.execute(name => 'word_count', tables => ARRAY[procgate.table_arg('docs', NULL, 'SELECT id, body FROM docs WHERE lang = $1', (SELECT jsonb_build_object('1', jsonb_build_object('value', to_jsonb($1), 'type', pg_typeof($1)::text)) FROM (SELECT pg_catalog.dense_rank() OVER (ORDER BY (lang)) FROM (SELECT id, body FROM docs WHERE lang = $1) AS procgate_input LIMIT 0) AS procgate_probe RIGHT JOIN (VALUES (1)) AS procgate_one (x) ON true), ARRAY['lang']::text[])]::procgate.table_value[], args => ARRAY[procgate.arg('min_len', NULL, ($2)::integer), procgate.arg('lang', NULL, ('en')::text)]::procgate.arg_value[], "into" => ARRAY['out']::text[], options => ARRAY[procgate.arg('run_tag', NULL, ('nightly')::text)]::procgate.arg_value[])"`,
    );
    expect(
      rewrite('EXECUTE PROCEDURE free(x => 1 + 1, y => NULL, z => $1, t => TABLE (public.docs))'),
    ).toMatchInlineSnapshot(
      `"SELECT * FROM procgate.execute(name => 'free', tables => ARRAY[procgate.table_arg('t', NULL, 'SELECT * FROM public.docs', (SELECT jsonb_build_object() FROM (SELECT FROM public.docs AS procgate_input LIMIT 0) AS procgate_probe RIGHT JOIN (VALUES (1)) AS procgate_one (x) ON true), ARRAY[]::text[])]::procgate.table_value[], args => ARRAY[procgate.arg('x', NULL, (1 + 1)), procgate.arg('y', NULL, (NULL)::text), procgate.arg('z', NULL, ($1)::text)]::procgate.arg_value[], "into" => ARRAY[]::text[], options => ARRAY[]::procgate.arg_value[])"`,
    );
    expect(rewrite('CALL word_count(TABLE (docs), 3)')).toMatchInlineSnapshot(
      `"CALL procgate.call_and_wait(name => 'word_count', tables => ARRAY[procgate.table_arg(NULL, 1, 'SELECT * FROM docs', jsonb_build_object(), ARRAY[]::text[])]::procgate.table_value[], args => ARRAY[procgate.arg(NULL, 2, (3))]::procgate.arg_value[], "into" => ARRAY[]::text[], options => ARRAY[]::procgate.arg_value[])"`,
    );
  });

  it('run control, catalog statements and privileges', () => {
    expect(rewrite("KILL RUN '1b4e28ba-2fa1-11d2-883f-0016d3cca427'")).toMatchInlineSnapshot(
      `"SELECT * FROM procgate.kill_run('1b4e28ba-2fa1-11d2-883f-0016d3cca427')"`,
    );
    // A driver's $1 (psycopg 3, pg with values, pgjdbc) goes to the function as its argument.
    expect(rewrite('KILL RUN $1; SHOW PROCEDURE STATUS $1')).toMatchInlineSnapshot(`"SELECT * FROM procgate.kill_run($1); SELECT * FROM procgate.show_procedure_status($1, NULL)"`);
    expect(rewrite("KILL RUNS OF PROCEDURE word_count WITH (run_tag = 'a')")).toMatchInlineSnapshot(
      `"SELECT * FROM procgate.kill_runs('word_count', ('a')::text)"`,
    );
    expect(rewrite('DROP PROCEDURE IF EXISTS free')).toMatchInlineSnapshot(
      `"SELECT * FROM procgate.drop_procedure('free', true)"`,
    );
    expect(rewrite('SHOW PROCEDURES; SHOW PROCEDURE free; SHOW PROCEDURE STATUS')).toMatchInlineSnapshot(
      `"SELECT * FROM procgate.show_procedures(); SELECT * FROM procgate.show_procedure('free'); SELECT * FROM procgate.show_procedure_status(NULL, NULL)"`,
    );
    expect(
      rewrite('GRANT EXECUTE ON PROCEDURE free TO alice; REVOKE EXECUTE ON PROCEDURE free FROM alice'),
    ).toMatchInlineSnapshot(
      `"SELECT * FROM procgate.grant_execute('free', 'alice'); SELECT * FROM procgate.revoke_execute('free', 'alice')"`,
    );
  });

  it('keeps the other statements of a text exactly, around ours', () => {
    const text = "SELECT 1; /* ours: */ KILL RUNS ;\nINSERT INTO t VALUES ('KILL RUNS');";
    expect(rewrite(text)).toBe(
      "SELECT 1; /* ours: */ SELECT * FROM procgate.kill_runs(NULL, NULL) ;\nINSERT INTO t VALUES ('KILL RUNS');",
    );
  });
});

describe('rewriteQuery: errors and positions', () => {
  it('replaces a bad statement of ours by a marker and maps the marker to our error', () => {
    const text = 'SELECT 1; KILL RUN 42; SELECT 2';
    const result = rewriteQuery(text, { catalog });
    if (result.kind !== 'rewritten') throw new Error('not rewritten');
    expect(result.text).toBe(`SELECT 1; ${ERROR_MARKER}; SELECT 2`);
    const mapped = result.positions.map(result.text.indexOf(ERROR_MARKER) + 1);
    expect(mapped).toMatchObject({ kind: 'replace', error: { code: '42601', position: 20 } });
    expect(mapped?.kind === 'replace' && mapped.error.message).toBe('syntax error at or near "42"');
  });

  it('rejects unknown options of KILL RUNS with 22023 at the option', () => {
    const text = 'KILL RUNS WITH (colour = 1)';
    const result = rewriteQuery(text, { catalog });
    if (result.kind !== 'rewritten') throw new Error('not rewritten');
    expect(result.positions.map(1)).toMatchObject({
      kind: 'replace',
      error: { code: '22023', position: 17 },
    });
  });

  it('maps positions inside copied expressions back to the client text, in characters', () => {
    const text = "SELECT 'é😀'; EXECUTE PROCEDURE free(x => 1/0 + nosuchcolumn)";
    const result = rewriteQuery(text, { catalog });
    if (result.kind !== 'rewritten') throw new Error('not rewritten');
    // PostgreSQL counts characters: find the column in the output the way it would report it.
    const outputChars = [...result.text];
    const reported = outputChars.join('').indexOf('nosuchcolumn');
    const pgPosition = [...result.text.slice(0, reported)].length + 1;
    const sourcePosition = [...text.slice(0, text.indexOf('nosuchcolumn'))].length + 1;
    expect(result.positions.map(pgPosition)).toEqual({ kind: 'position', position: sourcePosition });
  });

  it('maps positions in our scaffolding to the start of the statement', () => {
    const text = 'SELECT 1; SHOW PROCEDURES';
    const result = rewriteQuery(text, { catalog });
    if (result.kind !== 'rewritten') throw new Error('not rewritten');
    expect(result.positions.map(result.text.indexOf('procgate.') + 1)).toEqual({
      kind: 'position',
      position: 11,
    });
  });
});
