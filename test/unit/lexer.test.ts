import { beforeAll, describe, expect, it } from 'vitest';
import { type LexOptions, lex, type Token, TokenKind } from '../../src/sql/lexer.js';
import { loadOracle, pgTokens } from './libpg-query-oracle.js';
import { CORPUS } from './sql-corpus.js';

beforeAll(loadOracle);

const spans = (tokens: readonly Token[]) => tokens.map(({ kind, start, end }) => ({ kind, start, end }));

/** Each token as [kind, its text] (plus `true` when unterminated): readable and still exact. */
function lexed(text: string, options?: LexOptions): (string | boolean)[][] {
  return lex(text, options).map((t) => {
    const row: (string | boolean)[] = [t.kind, text.slice(t.start, t.end)];
    if (t.unterminated) row.push(true);
    return row;
  });
}

describe('lex agrees with PostgreSQL scanner', () => {
  it.each(CORPUS)('%j', (text) => {
    expect(spans(lex(text))).toEqual(pgTokens(text));
  });
});

describe('lex where libpg-query and the server differ (checked against a PostgreSQL 17 server)', () => {
  it('continues a string across -- comments between the segments', () => {
    expect(lexed("SELECT 'a' -- x\n'b'")).toEqual([
      ['identifier', 'SELECT'],
      ['string', "'a' -- x\n'b'"],
    ]);
    expect(lexed("SELECT 'a'\n  -- c\n  -- d\n'b' x")).toEqual([
      ['identifier', 'SELECT'],
      ['string', "'a'\n  -- c\n  -- d\n'b'"],
      ['identifier', 'x'],
    ]);
  });

  it('keeps trailing junk after a parameter in the parameter token, as 17.x does to reject it', () => {
    expect(lexed('SELECT $1a, $1_0, $12abc$')).toEqual([
      ['identifier', 'SELECT'],
      ['param', '$1a'],
      ['punctuation', ','],
      ['param', '$1_0'],
      ['punctuation', ','],
      ['param', '$12abc$'],
    ]);
  });
});

describe('lex where PostgreSQL raises an error (tokens cover what the server rejects)', () => {
  it('keeps trailing junk after a number in the number token', () => {
    const text = 'SELECT 1a, 1_, 1__2, 1e, 1e+, 1e5x, 1.x, 1.5e, 0x, 0xg, 0x1g, 0x1$, 0b2';
    expect(
      lexed(text)
        .filter((t) => t[0] === 'number')
        .map((t) => t[1]),
    ).toEqual(['1a', '1_', '1__2', '1e', '1e+', '1e5x', '1.x', '1.5e', '0x', '0xg', '0x1g', '0x1$', '0b2']);
  });

  it('lexes a zero-length quoted identifier', () => {
    expect(lex('SELECT ""')[1]).toMatchObject({ kind: 'quotedIdentifier', start: 7, end: 9, value: '' });
  });

  it.each([
    ["SELECT 'abc", 'string'],
    ["SELECT 'it''s", 'string'],
    ["SELECT E'abc\\'", 'string'],
    ["SELECT E'abc\\", 'string'],
    ["SELECT 'a'\n'b", 'string'],
    ["SELECT N'abc", 'string'],
    ["SELECT U&'abc", 'string'],
    ["SELECT B'01", 'bitString'],
    ["SELECT X'1F'\n'", 'bitString'],
    ['SELECT "abc', 'quotedIdentifier'],
    ['SELECT "a""', 'quotedIdentifier'],
    ['SELECT U&"abc', 'quotedIdentifier'],
    ['SELECT $a$ abc $b$', 'string'],
    ['SELECT $$', 'string'],
    ['SELECT $a$ abc $A$', 'string'],
    ['SELECT /* abc', 'comment'],
    ['SELECT /* a /* b */', 'comment'],
    ["SELECT /* '; *", 'comment'],
  ])('runs %j to the end, unterminated', (text, kind) => {
    const tokens = lex(text);
    expect(tokens).toHaveLength(2);
    expect(tokens[1]).toEqual({ kind, start: 7, end: text.length, value: undefined, unterminated: true });
  });

  it('does not mark line comments or complete tokens unterminated', () => {
    expect(lex("SELECT 'a' -- no newline").every((t) => t.unterminated === undefined)).toBe(true);
  });
});

describe('lex with standard_conforming_strings off', () => {
  const off = { standardConformingStrings: false };

  it('treats backslash as an escape in plain and N strings', () => {
    expect(lexed("SELECT 'a\\'b', 'c\\\\', N'x\\'y'", off)).toEqual([
      ['identifier', 'SELECT'],
      ['string', "'a\\'b'"],
      ['punctuation', ','],
      ['string', "'c\\\\'"],
      ['punctuation', ','],
      ['string', "N'x\\'y'"],
    ]);
  });

  it('moves where a string ends compared with the default', () => {
    const text = "SELECT 'a\\'; SELECT 'c'";
    expect(lexed(text)).toEqual([
      ['identifier', 'SELECT'],
      ['string', "'a\\'"],
      ['punctuation', ';'],
      ['identifier', 'SELECT'],
      ['string', "'c'"],
    ]);
    expect(lexed(text, off)).toEqual([
      ['identifier', 'SELECT'],
      ['string', "'a\\'; SELECT '"],
      ['identifier', 'c'],
      ['string', "'", true],
    ]);
  });

  it('keeps escapes in continued segments', () => {
    expect(lexed("SELECT 'a'\n'\\'' x", off)).toEqual([
      ['identifier', 'SELECT'],
      ['string', "'a'\n'\\''"],
      ['identifier', 'x'],
    ]);
  });

  it('leaves bit strings, U& strings, dollar quotes and identifiers alone', () => {
    expect(lexed("SELECT B'1\\', U&'\\', $$\\$$, \"\\\"", off)).toEqual([
      ['identifier', 'SELECT'],
      ['bitString', "B'1\\'"],
      ['punctuation', ','],
      ['string', "U&'\\'"],
      ['punctuation', ','],
      ['string', '$$\\$$'],
      ['punctuation', ','],
      ['quotedIdentifier', '"\\"'],
    ]);
  });

  it('changes nothing for E strings', () => {
    expect(lexed("SELECT E'\\'' 'x'", off)).toEqual(lexed("SELECT E'\\'' 'x'"));
  });
});

describe('token values', () => {
  it('downcases only A-Z in words, like PostgreSQL in a UTF-8 database', () => {
    expect(lex('SELECT SeLeCt, ÉcOle, Ä_b, x1$Y').map((t) => t.value)).toEqual([
      'select',
      'select',
      ',',
      'École',
      ',',
      'Ä_b',
      ',',
      'x1$y',
    ]);
  });

  it('gives the name of a quoted identifier', () => {
    expect(lex('"My ""Quoted"" Id" "a" U&"x"').map((t) => t.value)).toEqual([
      'My "Quoted" Id',
      'a',
      undefined,
    ]);
  });

  it('gives the text of operators, punctuation and other characters', () => {
    expect(lex('a::int[] := x <-> y, b.c .. 1 =-1 @-1 $ \\').map((t) => [t.kind, t.value])).toEqual([
      [TokenKind.Identifier, 'a'],
      [TokenKind.Punctuation, '::'],
      [TokenKind.Identifier, 'int'],
      [TokenKind.Punctuation, '['],
      [TokenKind.Punctuation, ']'],
      [TokenKind.Operator, ':='],
      [TokenKind.Identifier, 'x'],
      [TokenKind.Operator, '<->'],
      [TokenKind.Identifier, 'y'],
      [TokenKind.Punctuation, ','],
      [TokenKind.Identifier, 'b'],
      [TokenKind.Punctuation, '.'],
      [TokenKind.Identifier, 'c'],
      [TokenKind.Punctuation, '..'],
      [TokenKind.Number, undefined],
      [TokenKind.Operator, '='],
      [TokenKind.Operator, '-'],
      [TokenKind.Number, undefined],
      [TokenKind.Operator, '@-'],
      [TokenKind.Number, undefined],
      [TokenKind.Other, '$'],
      [TokenKind.Other, '\\'],
    ]);
  });

  it('makes no tokens for empty text, whitespace and comments', () => {
    expect(lex('')).toEqual([]);
    expect(lex(' \t\r\n\f\v-- x\n/* y /* z */ */')).toEqual([]);
  });

  it('counts offsets in UTF-16 code units', () => {
    const text = "😀 'é😀' x";
    expect(spans(lex(text))).toEqual([
      { kind: 'identifier', start: 0, end: 2 },
      { kind: 'string', start: 3, end: 8 },
      { kind: 'identifier', start: 9, end: 10 },
    ]);
  });
});

describe('lex agrees with PostgreSQL scanner on seeded random texts', () => {
  /** Fragments that meet at token boundaries in every awkward way. */
  const ATOMS = [
    ...["'", '"', '$', '$$', '$a$', '$1', 'a', 'B', 'x', 'E', 'n', 'U&', 'u', '&', '1', '0', '.', '..', '_'],
    ...['e', '+', '-', '*', '/', '<', '>', '=', '!', '@', '#', '?', '|', '~', '%', '^', ':', ';', '(', ')'],
    ...['[', ']', ',', ' ', '\n', '\t', '\\', '/*', '*/', '--', 'é', '😀', 'SELECT', '0x', '1e', 'o', '{'],
  ];
  // A fixed linear congruential generator, so a failure reproduces.
  let seed = 12345;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };

  it('matches on every text the scanner accepts, and is unterminated where it says so', () => {
    const mismatches: string[] = [];
    let compared = 0;
    for (let k = 0; k < 20_000; k++) {
      let text = '';
      for (let j = 1 + random(12); j > 0; j--) text += ATOMS[random(ATOMS.length)];
      // Skip the two places where libpg-query differs from the server (see libpg-query-oracle.ts).
      if (/\$\d+[A-Za-z_\u0080-\uffff]/.test(text) || (text.includes("'") && text.includes('--'))) continue;
      const tokens = lex(text);
      let expected: ReturnType<typeof pgTokens>;
      try {
        expected = pgTokens(text);
      } catch (error) {
        // The scanner stops at its first error, so only "unterminated" errors say something about us.
        if (String(error).includes('"unterminat') && !tokens.some((t) => t.unterminated))
          mismatches.push(text);
        continue;
      }
      compared++;
      if (tokens.some((t) => t.unterminated) || JSON.stringify(spans(tokens)) !== JSON.stringify(expected)) {
        mismatches.push(text);
      }
    }
    expect(mismatches).toEqual([]);
    expect(compared).toBeGreaterThan(5_000);
  });
});
