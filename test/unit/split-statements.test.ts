import { describe, expect, it } from 'vitest';
import type { LexOptions } from '../../src/sql/lexer.js';
import { splitStatements } from '../../src/sql/split-statements.js';
import { loadOracle, pgParses, pgStatements } from './libpg-query-oracle.js';
import { CORPUS } from './sql-corpus.js';

// Loaded before the tests are collected: which texts the parser accepts decides which tests exist.
await loadOracle();

/** Each statement's own text, which shows its offsets at a glance. */
function texts(text: string, options?: LexOptions): string[] {
  return splitStatements(text, options).map((s) => text.slice(s.start, s.end));
}

const ATOMIC_FUNCTION = `CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql
BEGIN ATOMIC
  INSERT INTO log VALUES (x);
  SELECT CASE WHEN x > 0 THEN CASE x WHEN 1 THEN 1 ELSE 2 END ELSE 0 END;
END`;

const NESTED_ATOMIC = `create or replace procedure p() language sql begin atomic
  create function g() returns int language sql begin atomic select 1; end;
  select 2;
end`;

/** Multi-statement texts and the statements the server runs, in order. */
const CASES: readonly (readonly [string, readonly string[]])[] = [
  ['SELECT 1; SELECT 2', ['SELECT 1', 'SELECT 2']],
  ['SELECT 1;', ['SELECT 1']],
  ['  SELECT 1  ;  ', ['SELECT 1']],
  ['SELECT 1;;  ; SELECT 2;;', ['SELECT 1', 'SELECT 2']],
  [';', []],
  ['', []],
  [' \n-- only a comment\n/* and another; */ ', []],
  ["SELECT ';'; SELECT 'a''; b'", ["SELECT ';'", "SELECT 'a''; b'"]],
  ['SELECT "a;b" FROM "t;"; SELECT 2', ['SELECT "a;b" FROM "t;"', 'SELECT 2']],
  ['SELECT $$;$$; SELECT $x$ $$; $x$', ['SELECT $$;$$', 'SELECT $x$ $$; $x$']],
  ['SELECT 1 /* ; */; SELECT 2 -- ;\n; SELECT 3', ['SELECT 1', 'SELECT 2', 'SELECT 3']],
  ["SELECT E'\\';'; SELECT 2", ["SELECT E'\\';'", 'SELECT 2']],
  ["SELECT 'a'\n';' AS x; SELECT 2", ["SELECT 'a'\n';' AS x", 'SELECT 2']],
  ["SELECT 'a' -- c\n';'; SELECT 2", ["SELECT 'a' -- c\n';'", 'SELECT 2']],
  ['SELECT 1 /* a /* ; */ ; */; SELECT 2', ['SELECT 1', 'SELECT 2']],
  ["SELECT 'é😀'; SELECT '😀' -- 😀", ["SELECT 'é😀'", "SELECT '😀'"]],
  [`${ATOMIC_FUNCTION}; SELECT f(1);`, [ATOMIC_FUNCTION, 'SELECT f(1)']],
  [
    'CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); END; CALL p()',
    [
      'CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); END',
      'CALL p()',
    ],
  ],
  [`${NESTED_ATOMIC};select 3`, [NESTED_ATOMIC, 'select 3']],
  [
    'CREATE FUNCTION f(begin int) RETURNS int LANGUAGE sql RETURN begin; SELECT 1',
    ['CREATE FUNCTION f(begin int) RETURNS int LANGUAGE sql RETURN begin', 'SELECT 1'],
  ],
  [
    'CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT begin FROM t; END; SELECT 1',
    ['CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT begin FROM t; END', 'SELECT 1'],
  ],
  [
    "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1; SELECT 2'; SELECT CASE WHEN true THEN 1 END",
    [
      "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1; SELECT 2'",
      'SELECT CASE WHEN true THEN 1 END',
    ],
  ],
  ['BEGIN; SELECT 1; END;', ['BEGIN', 'SELECT 1', 'END']],
  ['BEGIN ATOMIC; SELECT 1', ['BEGIN ATOMIC', 'SELECT 1']],
  [
    'CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2)); SELECT 1',
    [
      'CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2))',
      'SELECT 1',
    ],
  ],
  [
    "CREATE PROCEDURE wc LANGUAGE command COMMAND 'python3' FILES ('wc.py' = $py$import sys; print(1)$py$); EXECUTE PROCEDURE wc()",
    [
      "CREATE PROCEDURE wc LANGUAGE command COMMAND 'python3' FILES ('wc.py' = $py$import sys; print(1)$py$)",
      'EXECUTE PROCEDURE wc()',
    ],
  ],
];

describe('splitStatements', () => {
  it.each(CASES)('splits %j', (text, expected) => {
    expect(texts(text)).toEqual(expected);
  });

  it.each(CASES.filter(([text]) => pgParses(text)))('agrees with PostgreSQL parser on %j', (text) => {
    expect(splitStatements(text).map(({ start, end }) => ({ start, end }))).toEqual(pgStatements(text));
  });

  it('returns offsets and the tokens without the semicolon', () => {
    const [first, second] = splitStatements('SELECT 1 ; SELECT x');
    expect(first).toMatchObject({ start: 0, end: 8 });
    expect(first?.tokens.map((t) => t.value ?? 'number')).toEqual(['select', 'number']);
    expect(second).toMatchObject({ start: 11, end: 19 });
    expect(second?.tokens.map((t) => t.value)).toEqual(['select', 'x']);
  });

  it('keeps an unterminated tail in the last statement', () => {
    expect(texts("SELECT 1; SELECT 'abc; SELECT 2")).toEqual(['SELECT 1', "SELECT 'abc; SELECT 2"]);
    expect(texts('SELECT 1; SELECT $$ ; SELECT 2')).toEqual(['SELECT 1', 'SELECT $$ ; SELECT 2']);
    expect(texts('SELECT 1; /* ; SELECT 2')).toEqual(['SELECT 1', '/* ; SELECT 2']);
    expect(
      texts('CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2'),
    ).toHaveLength(1);
  });

  it('follows standard_conforming_strings', () => {
    const text = "SELECT 'a\\'; SELECT 1; SELECT '";
    expect(texts(text)).toEqual(["SELECT 'a\\'", 'SELECT 1', "SELECT '"]);
    expect(texts(text, { standardConformingStrings: false })).toEqual([text]);
  });
});

describe('splitStatements agrees with PostgreSQL parser on the lexer corpus', () => {
  const parsing = CORPUS.filter((text) => pgParses(text));

  it('has enough corpus texts that parse', () => {
    expect(parsing.length).toBeGreaterThanOrEqual(15);
  });

  it.each(parsing)('%j', (text) => {
    expect(splitStatements(text).map(({ start, end }) => ({ start, end }))).toEqual(pgStatements(text));
  });
});
