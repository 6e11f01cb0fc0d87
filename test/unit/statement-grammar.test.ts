import { describe, expect, it } from 'vitest';
import { parseStatement, StatementError } from '../../src/sql/parse-statement.js';
import type { Span } from '../../src/sql/statement-ast.js';

function parse(text: string) {
  return parseStatement(text, { start: 0, end: text.length });
}

/** The text a span covers, to assert spans readably. */
function at(text: string, span: Span | null | undefined): string | undefined {
  return span == null ? undefined : text.slice(span.start, span.end);
}

function syntaxError(text: string): { message: string; offset: number } {
  try {
    parse(text);
  } catch (error) {
    expect(error).toBeInstanceOf(StatementError);
    expect((error as StatementError).code).toBe('42601');
    return { message: (error as StatementError).message, offset: (error as StatementError).offset };
  }
  throw new Error(`parsed: ${text}`);
}

describe('CREATE PROCEDURE', () => {
  it('reads a command procedure with files and options', () => {
    const text = `CREATE PROCEDURE word_count LANGUAGE command COMMAND 'python3' ARGS ('wc.py', '-v')
      FILES ('wc.py' = $py$ print("a, b") $py$, 'data/x.bin' = decode('00ff', 'hex'))
      WITH (max_concurrency_per_node = 2, set_environment = 'py311')`;
    const statement = parse(text);
    expect(statement.kind).toBe('create-procedure');
    if (statement.kind !== 'create-procedure') return;
    expect(statement.name.value).toBe('word_count');
    expect(statement.orReplace).toBe(false);
    expect(statement.parameters).toBeNull();
    expect(statement.body.kind).toBe('command');
    if (statement.body.kind !== 'command') return;
    expect(at(text, statement.body.command)).toBe("'python3'");
    expect(statement.body.args.map((arg) => at(text, arg))).toEqual(["'wc.py'", "'-v'"]);
    expect(statement.files.map((file) => [at(text, file.path), at(text, file.value)])).toEqual([
      ["'wc.py'", '$py$ print("a, b") $py$'],
      ["'data/x.bin'", "decode('00ff', 'hex')"],
    ]);
    expect(statement.options.map((option) => [option.name.value, at(text, option.value)])).toEqual([
      ['max_concurrency_per_node', '2'],
      ['set_environment', "'py311'"],
    ]);
  });

  it('reads a typed procedure with parameters, defaults, mode and RETURNS TABLE, clauses in any order', () => {
    const text = `create or replace procedure "Train"(data TABLE, min_len int DEFAULT 2 + 1, labels text[] default ARRAY['a,b', 'c'],
      cut numeric(10, 2)) TYPE 'classifier.train' RETURNS TABLE (a int, b timestamp with time zone) EXECUTION MODE NONDISTRIBUTED`;
    const statement = parse(text);
    if (statement.kind !== 'create-procedure') throw new Error(statement.kind);
    expect(statement.orReplace).toBe(true);
    expect(statement.name.value).toBe('Train');
    expect(statement.body).toMatchObject({ kind: 'type' });
    expect(statement.executionMode).toBe('nondistributed');
    expect(
      statement.parameters?.map((p) => [p.name.value, p.table, at(text, p.type), at(text, p.defaultValue)]),
    ).toEqual([
      ['data', true, undefined, undefined],
      ['min_len', false, 'int', '2 + 1'],
      ['labels', false, 'text[]', "ARRAY['a,b', 'c']"],
      ['cut', false, 'numeric(10, 2)', undefined],
    ]);
    expect(statement.returns?.map((c) => [c.name.value, at(text, c.type)])).toEqual([
      ['a', 'int'],
      ['b', 'timestamp with time zone'],
    ]);
  });

  it('reads a javascript procedure with an empty parameter list', () => {
    const statement = parse(
      "CREATE PROCEDURE js() LANGUAGE javascript FILES ('main.js' = 'export default 1')",
    );
    expect(statement).toMatchObject({
      kind: 'create-procedure',
      parameters: [],
      body: { kind: 'javascript' },
    });
  });
});

describe('EXECUTE PROCEDURE and CALL', () => {
  it('reads named, positional and table arguments, INTO and WITH', () => {
    const text = `EXECUTE PROCEDURE word_count(docs => TABLE (SELECT id, body FROM docs WHERE lang = $1) PARTITION BY (lang, id % 4),
      min_len => (SELECT max(n) FROM t), 'x, y', $2::int, f(1, g(2)) -- trailing, comment
      ) INTO word_counts, public.other WITH (run_tag = 'nightly', max_output_lines = 10)`;
    const statement = parse(text);
    if (statement.kind !== 'execute-procedure') throw new Error(statement.kind);
    const [docs, minLen, ...positional] = statement.args;
    expect(docs?.name?.value).toBe('docs');
    expect(docs?.value).toMatchObject({ kind: 'table', source: { kind: 'query' } });
    if (docs?.value.kind !== 'table' || docs.value.source.kind !== 'query') return;
    expect(at(text, docs.value.source.query)).toBe('SELECT id, body FROM docs WHERE lang = $1');
    expect(docs.value.partitionBy.map((key) => at(text, key))).toEqual(['lang', 'id % 4']);
    expect(minLen?.value.kind === 'expression' && at(text, minLen.value.expression)).toBe(
      '(SELECT max(n) FROM t)',
    );
    expect(
      positional.map((a) => a.name === null && a.value.kind === 'expression' && at(text, a.value.expression)),
    ).toEqual(["'x, y'", '$2::int', 'f(1, g(2))']);
    expect(statement.into.map((name) => at(text, name))).toEqual(['word_counts', 'public.other']);
    expect(statement.options.map((o) => [o.name.value, at(text, o.value)])).toEqual([
      ['run_tag', "'nightly'"],
      ['max_output_lines', '10'],
    ]);
  });

  it('reads TABLE (name) with a single partition key, and CALL', () => {
    const text = 'CALL p(TABLE (sales.orders) PARTITION BY region)';
    const statement = parse(text);
    if (statement.kind !== 'call-procedure') throw new Error(statement.kind);
    const value = statement.args[0]?.value;
    expect(value?.kind === 'table' && value.source.kind === 'relation' && at(text, value.source.name)).toBe(
      'sales.orders',
    );
    expect(value?.kind === 'table' && value.partitionBy.map((k) => at(text, k))).toEqual(['region']);
  });

  it('ends a partition key or a value before `name =>`: a missing comma there is a syntax error at the name', () => {
    const text = 'EXECUTE PROCEDURE segment_stats(customers => TABLE (customers2) PARTITION BY plan min_calls => 2) INTO x';
    expect(syntaxError(text)).toEqual({
      message: 'syntax error at or near "min_calls"',
      offset: text.indexOf('min_calls'),
    });
    const quoted = 'EXECUTE PROCEDURE p(a => 1 + 2 "b" => 3)';
    expect(syntaxError(quoted)).toEqual({ message: 'syntax error at or near ""b""', offset: quoted.indexOf('"b"') });
    const keys = 'EXECUTE PROCEDURE p(t => TABLE (x) PARTITION BY (plan, region) min_calls => 2)';
    expect(syntaxError(keys).offset).toBe(keys.indexOf('min_calls'));

    // With the comma, the name starts the next argument; `=>` inside brackets stays the expression's.
    const good = 'EXECUTE PROCEDURE s(c => TABLE (c2) PARTITION BY plan, min_calls => f(x => 1) + 2)';
    const statement = parse(good);
    if (statement.kind !== 'execute-procedure') throw new Error(statement.kind);
    const [table, minCalls] = statement.args;
    expect(table?.value.kind === 'table' && table.value.partitionBy.map((key) => at(good, key))).toEqual(['plan']);
    expect(minCalls?.name?.value).toBe('min_calls');
    expect(minCalls?.value.kind === 'expression' && at(good, minCalls.value.expression)).toBe('f(x => 1) + 2');
  });

  it('keeps strings, dollar quotes, comments and quoted identifiers whole inside expressions', () => {
    const text = `EXECUTE PROCEDURE p(a => 'it''s, here', b => E'x\\', y', c => $t$ ) , $t$, d => "we,ird" || /* , ) */ 'z')`;
    const statement = parse(text);
    if (statement.kind !== 'execute-procedure') throw new Error(statement.kind);
    expect(statement.args.map((a) => a.value.kind === 'expression' && at(text, a.value.expression))).toEqual([
      "'it''s, here'",
      "E'x\\', y'",
      '$t$ ) , $t$',
      `"we,ird" || /* , ) */ 'z'`,
    ]);
  });
});

describe('KILL, DROP, SHOW, GRANT, REVOKE', () => {
  it.each([
    ["KILL RUN '0b9e4f7c-0000-4000-8000-000000000000'", { kind: 'kill-run' }],
    ['KILL RUN $1', { kind: 'kill-run' }],
    ['SHOW PROCEDURE STATUS $2', { kind: 'show-procedure-status' }],
    ['KILL RUNS', { kind: 'kill-runs', procedure: null, options: [] }],
    ["kill runs of procedure p with (run_tag = 'a')", { kind: 'kill-runs', procedure: { value: 'p' } }],
    ['DROP PROCEDURE p', { kind: 'drop-procedure', ifExists: false, name: { value: 'p' } }],
    ['DROP PROCEDURE IF EXISTS "P q"', { kind: 'drop-procedure', ifExists: true, name: { value: 'P q' } }],
    ['SHOW PROCEDURES', { kind: 'show-procedures' }],
    ['SHOW PROCEDURE p', { kind: 'show-procedure', name: { value: 'p' } }],
    ['SHOW PROCEDURE STATUS', { kind: 'show-procedure-status', runId: null, options: [] }],
    ["SHOW PROCEDURE STATUS 'x' WITH (run_tag = 't')", { kind: 'show-procedure-status' }],
    ['GRANT EXECUTE ON PROCEDURE p TO alice', { kind: 'grant-execute', role: { value: 'alice' } }],
    ['REVOKE EXECUTE ON PROCEDURE p FROM "Bob"', { kind: 'revoke-execute', role: { value: 'Bob' } }],
  ])('%s', (text, expected) => {
    expect(parse(text)).toMatchObject(expected);
  });
});

describe('syntax errors', () => {
  it.each([
    // [text, message, the text at the error offset]
    ["CREATE PROCEDURE p LANGUAGE command COMMAND 'x' FILES ('a' = 1", 'syntax error at end of input', ''],
    ["CREATE PROCEDURE p LANGUAGE command COMMAND 'x' ARGS (1)", 'syntax error at or near "1"', '1)'],
    [
      "CREATE PROCEDURE p LANGUAGE command COMMAND 'x' FILES ('a' = 1) FILES ('b' = 2)",
      'FILES specified more than once',
      "FILES ('b'",
    ],
    [
      "CREATE PROCEDURE p TYPE 'a' EXECUTION MODE SOMETIMES",
      'syntax error at or near "SOMETIMES"',
      'SOMETIMES',
    ],
    ["CREATE PROCEDURE p(a) TYPE 'x'", 'syntax error at or near ")"', ') TYPE'],
    ['EXECUTE PROCEDURE p(x => 1 FILES', 'syntax error at end of input', ''],
    ['EXECUTE PROCEDURE p(a => 1) INTO', 'syntax error at end of input', ''],
    ['EXECUTE PROCEDURE p(a => 1) WITH (run_tag)', 'syntax error at or near ")"', ')'],
    ['EXECUTE PROCEDURE p(TABLE ())', 'syntax error at or near ")"', '))'],
    ['KILL RUN 42', 'syntax error at or near "42"', '42'],
    ['KILL RUNS OF p', 'syntax error at or near "p"', 'p'],
    ['SHOW PROCEDURE', 'syntax error at end of input', ''],
    ['GRANT EXECUTE ON PROCEDURE p alice', 'syntax error at or near "alice"', 'alice'],
  ])('%s', (text, message, rest) => {
    const error = syntaxError(text);
    expect(error.message).toBe(message);
    expect(text.slice(error.offset).startsWith(rest)).toBe(true);
  });

  it('points into the whole query text when the statement is not the first', () => {
    const text = 'SELECT 1; KILL RUN 42';
    try {
      parseStatement(text, { start: 10, end: text.length });
      throw new Error('parsed');
    } catch (error) {
      expect((error as StatementError).offset).toBe(19);
    }
  });
});
