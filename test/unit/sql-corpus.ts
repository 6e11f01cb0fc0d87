/**
 * Nasty SQL texts that PostgreSQL's scanner accepts. The lexer tests compare every one token for
 * token with PostgreSQL's scanner; the splitter tests compare statement spans with its parser for
 * those that parse.
 */
export const CORPUS: readonly string[] = [
  // everyday statements
  'SELECT abalance FROM pgbench_accounts WHERE aid = 42;',
  'UPDATE pgbench_accounts SET abalance = abalance + -4711 WHERE aid = 17;',
  'SELECT * FROM t WHERE a IN (1,2) ORDER BY 1 DESC LIMIT 10 OFFSET 5;',
  "EXECUTE PROCEDURE word_count(docs => TABLE (SELECT id FROM docs WHERE lang = 'en'), min_len => 2 + 1) INTO wc WITH (run_tag = 'nightly');",
  "CREATE PROCEDURE wc LANGUAGE command COMMAND 'python3' FILES ('wc.py' = $py$ import sys; print(1) -- x\n $py$);",
  'SELECT t1.c2, _x, x$1, SeLeCt FROM "Mixed"."Case" AS x1',
  // '' strings: doubled quotes, newlines inside, continuation across newline-holding whitespace only
  "SELECT 'it''s', 'a''''b', '', ''''",
  "SELECT 'line1\nline2', 'semi;colon', 'back\\slash'",
  "SELECT 'foo'\n'bar'",
  "SELECT 'a'   \n\t  'b'  'c'",
  "SELECT 'a'\r\n'b'\r'c'",
  "SELECT 'a' 'b'",
  "SELECT 'a' /* c */\n'b'",
  "SELECT 'a'-\n'b'",
  "SELECT 'a'\n\n   'b'\n'c' FROM t",
  // E'' strings
  "SELECT E'\\'', E'a\\\\', e'\\n\\t\\x41\\101\\u00e9'",
  "SELECT E'it''s', E'\\\\' 'x'",
  "SELECT E'a\\\nb', E'x'\n'\\''",
  "SELECT 'a\\'",
  // N'', B'', X''
  "SELECT N'national', n'x', N'a'\n'b'",
  "SELECT B'0101', b'1', X'1F', x'ff', B''",
  "SELECT B'01''10'",
  "SELECT B'01'\n'10', X'AB'\n  'CD'",
  // U&'' and U&""
  "SELECT U&'d\\0061t\\+000061', u&'x!0061' UESCAPE '!'",
  "SELECT U&'it''s', U&'\\' || 'x'",
  'SELECT U&"d\\0061t" FROM U&"t""q", u&"x"',
  'SELECT u&x, U & y',
  // dollar quotes
  'SELECT $$a;b$$, $tag$ x $$ y $tag$, $a$$b$$a$',
  'SELECT $$$$, $$ $ $$, $$ $1 $$',
  "SELECT $a$ -- not a comment; 'nor a string $a$",
  'SELECT $_x$ /* no */ $_x$, $é$ ü $é$, $😀$ 😀 $😀$',
  'SELECT $A$ x $a$ y $A$',
  'SELECT $a$ $ab$ $b$ $a$',
  'SELECT $outer$ $inner$ ; $inner$ $outer$',
  // parameters and $ in identifiers
  'SELECT $1, $23 + $4::int, $1$',
  'SELECT a$b, a$$b, _x$1$, b$ $ c',
  'SELECT $a + 1',
  // quoted identifiers
  'SELECT "My ""Quoted"" Id", "a;b", "a""", "--x", "/*"',
  'SELECT "line\nbreak", "é😀"',
  // comments
  'SELECT /* a /* nested */ still */ 1',
  'SELECT 1 -- comment ; not a statement end\n, 2',
  "SELECT '/* not a comment */', '-- nor this'",
  "/* 'not a string */ SELECT 1",
  "-- 'x\nSELECT 1",
  'SELECT 1 /**/ 2 /*/ x */ 3 /* ** */ 4',
  'SELECT 1 /* a */* 2',
  'SELECT */* x */ FROM t',
  'SELECT 1--1',
  '/* *//* x */SELECT--\r1',
  // operators
  "SELECT a<->b, a@>b, a->>'k', a!=b, a<>b, a<=b, a>=b, a=>b",
  'SELECT 1=-1, 2*-3, a@-b, a?-+b, a<=>b, a||b, ~x, !!x, |/x, @-1',
  'SELECT a+/*c*/b, a*--c\nb, a-/**/-b, a+-/*x*/1',
  "SELECT j #>> '{a}', j #- '{a}', j ?| array['a'], j ?& x, a ^ b % c",
  'SELECT a =- b, a <- b, a !- b, a ++ b, a -+- b',
  'SELECT 1 +',
  // numbers
  'SELECT 1.5e10, .5, 1., 1.e5, .5e-3, 1e+5, 1E5, 00012, 12345678901234567890',
  'SELECT 1..2, x[1:2], x[:3], a::int[], a:=1, a . b, a :: b',
  'SELECT 0x1F, 0o17, 0b101, 0X_AB, 1_000_000, 1_0.0_1, 1.5e1_0',
  'SELECT 1.5.6, 1.5..6, ..5',
  // punctuation, whitespace and other characters
  'SELECT x.y.z, t.*, (a).b, arr[1][2], f(a, b);',
  'SELECT a\tb\fc\vd',
  'SELECT { \\ }',
  // non-ASCII text and surrogate pairs: offsets are UTF-16 code units
  "SELECT é, 'ü', \"ö\", 😀x, x😀, 'a😀b', ÉcOle",
  "SELECT '😀' || \"😀\" || $😀$ 😀 $😀$ || E'😀\\😀' -- 😀\n, 1",
  'SELECT 1 /* 😀 /* 😀 */ 😀 */ + 2',
  // a routine body with semicolons
  'CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 1 END; END',
];
