/**
 * The statement lexer: PostgreSQL's own lexical rules (`src/backend/parser/scan.l`, PostgreSQL 17),
 * re-implemented as a hand-written scanner over UTF-16 char codes.
 *
 * The proxy runs it on every Query and Parse text a client sends, to find the few statements that
 * are ours and to split multi-statement texts. It must therefore agree with the server about where
 * every token starts and ends (a `;` inside a dollar quote must never look like a statement end), and
 * it must be cheap: one pass, no regular expressions, no allocation per character.
 *
 * It never rejects text. Where PostgreSQL's scanner raises an error (unterminated literals, trailing
 * junk after a number), we still return tokens covering the same characters and let the server
 * report the error in its own words when the text reaches it.
 *
 * @module
 */

/**
 * Token kinds. An `as const` object plus a derived union (not a TS enum), so kinds are plain strings
 * in logs and test output.
 */
export const TokenKind = {
  /**
   * An unquoted word: keyword or identifier. PostgreSQL only knows which one from the grammar
   * around it (most keywords are unreserved), so we don't decide; `value` is the word downcased the
   * way PostgreSQL downcases identifiers.
   */
  Identifier: 'identifier',
  /** `"..."` or `U&"..."`. `value` is the name of a terminated `"..."` identifier. */
  QuotedIdentifier: 'quotedIdentifier',
  /** `'...'`, `E'...'`, `N'...'`, `U&'...'` (UESCAPE is just the following tokens) and `$tag$...$tag$`. */
  String: 'string',
  /** `B'...'` and `X'...'`: typed by their prefix, never escaped, never doubled quotes. */
  BitString: 'bitString',
  /** Integer or numeric constant, including `0x1F`, `1_000`, `.5`, `1.5e10`. */
  Number: 'number',
  /** A positional parameter `$1`. */
  Param: 'param',
  /** Operators, including the single-character ones (`+`, `<`, `=`) and `:=`. `value` is the text. */
  Operator: 'operator',
  /** `(` `)` `[` `]` `,` `;` `:` `::` `.` `..`; `value` is the text. */
  Punctuation: 'punctuation',
  /** A character no rule matches (`\`, `{`, a `$` that starts nothing): the server rejects it. */
  Other: 'other',
  /**
   * Only for an unterminated block comment (always `unterminated: true`): comments make no tokens,
   * but a text that ends inside one is broken, and a recognizer must be able to tell.
   */
  Comment: 'comment',
} as const;

export type TokenKind = (typeof TokenKind)[keyof typeof TokenKind];

export interface Token {
  readonly kind: TokenKind;
  /** UTF-16 offset of the first character in the text (what `String#slice` takes). */
  readonly start: number;
  /** UTF-16 offset just past the last character. */
  readonly end: number;
  /** Downcased word for identifiers, name for quoted identifiers, text for operators and punctuation. */
  readonly value?: string;
  /** The literal, quoted identifier or comment runs to the end of the text without being closed. */
  readonly unterminated?: boolean;
}

export interface LexOptions {
  /**
   * The session's `standard_conforming_strings`. When off, plain `'...'` (and `N'...'`) strings treat
   * backslash as an escape like `E'...'`, which moves where they end. Default true (the server default).
   */
  readonly standardConformingStrings?: boolean;
}

const TAB = 0x09;
const LF = 0x0a;
const VT = 0x0b;
const FF = 0x0c;
const CR = 0x0d;
const SPACE = 0x20;
const DQUOTE = 0x22;
const DOLLAR = 0x24;
const AMP = 0x26;
const QUOTE = 0x27;
const STAR = 0x2a;
const PLUS = 0x2b;
const DASH = 0x2d;
const DOT = 0x2e;
const SLASH = 0x2f;
const COLON = 0x3a;
const EQUALS = 0x3d;
const BACKSLASH = 0x5c;
const UNDERSCORE = 0x5f;

// Character classes as bit flags in a table, so the hot loops do one lookup per character.
const IDENT_START = 1; // [A-Za-z_] and every non-ASCII unit (PostgreSQL: bytes \200-\377)
const IDENT_CONT = 2; // IDENT_START plus [0-9$]
const DOLQ_CONT = 4; // IDENT_CONT without $: the characters of a dollar-quote tag
const DIGIT = 8;
const OP_CHAR = 16; // ~!@#^&|`?+-*/%<>=
const NON_SQL_OP = 32; // ~!@#^&|`?% : an operator containing one may end in + or -
const HIGH = IDENT_START | IDENT_CONT | DOLQ_CONT;

const CLASSES = buildClasses();

function buildClasses(): Uint8Array {
  const table = new Uint8Array(128);
  const set = (chars: string, flags: number) => {
    for (const ch of chars) table[ch.charCodeAt(0)]! |= flags;
  };
  set('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_', HIGH);
  set('0123456789', IDENT_CONT | DOLQ_CONT | DIGIT);
  set('$', IDENT_CONT);
  set('~!@#^&|`?+-*/%<>=', OP_CHAR);
  set('~!@#^&|`?%', NON_SQL_OP);
  return table;
}

/** Class flags of a char code; 0 for NaN, which `charCodeAt` returns past the end of the text. */
function charClass(c: number): number {
  return c < 128 ? CLASSES[c]! : c >= 128 ? HIGH : 0;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Pushes a complete token and returns its end, where lexing resumes. */
function emit(tokens: Token[], kind: TokenKind, start: number, end: number, value?: string): number {
  tokens.push(token(kind, start, end, value));
  return end;
}

function token(kind: TokenKind, start: number, end: number, value?: string, unterminated?: boolean): Token {
  // Every token gets the same five properties so V8 keeps one object shape for all of them.
  return { kind, start, end, value, unterminated: unterminated === true ? true : undefined };
}

/**
 * Splits `text` into tokens by PostgreSQL's lexical rules. Whitespace and comments make no tokens.
 *
 * @example
 * lex("SELECT 'a;b' FROM t") // identifier select, string, identifier from, identifier t
 */
export function lex(text: string, options?: LexOptions): Token[] {
  const backslashInPlain = options?.standardConformingStrings === false;
  const tokens: Token[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    const start = i;
    switch (c) {
      case SPACE:
      case TAB:
      case LF:
      case CR:
      case FF:
      case VT:
        i++;
        continue;
      case QUOTE:
        i = pushLiteral(tokens, TokenKind.String, start, skipQuoted(text, i + 1, backslashInPlain, true), n);
        continue;
      case DQUOTE:
        i = pushQuotedIdentifier(tokens, text, start, skipQuotedIdentifier(text, i + 1), 1);
        continue;
      case DOLLAR:
        i = lexDollar(tokens, text, i);
        continue;
      case DASH:
        if (text.charCodeAt(i + 1) === DASH) {
          i = lineEnd(text, i + 2);
          continue;
        }
        i = lexOperator(tokens, text, i);
        continue;
      case SLASH:
        if (text.charCodeAt(i + 1) === STAR) {
          const end = skipBlockComment(text, i + 2);
          if (end >= 0) i = end;
          else i = pushLiteral(tokens, TokenKind.Comment, start, end, n);
          continue;
        }
        i = lexOperator(tokens, text, i);
        continue;
      case 0x28:
        i = emit(tokens, TokenKind.Punctuation, start, i + 1, '(');
        continue;
      case 0x29:
        i = emit(tokens, TokenKind.Punctuation, start, i + 1, ')');
        continue;
      case 0x5b:
        i = emit(tokens, TokenKind.Punctuation, start, i + 1, '[');
        continue;
      case 0x5d:
        i = emit(tokens, TokenKind.Punctuation, start, i + 1, ']');
        continue;
      case 0x2c:
        i = emit(tokens, TokenKind.Punctuation, start, i + 1, ',');
        continue;
      case 0x3b:
        i = emit(tokens, TokenKind.Punctuation, start, i + 1, ';');
        continue;
      case COLON: {
        const next = text.charCodeAt(i + 1);
        if (next === COLON) i = emit(tokens, TokenKind.Punctuation, start, i + 2, '::');
        else if (next === EQUALS) i = emit(tokens, TokenKind.Operator, start, i + 2, ':=');
        else i = emit(tokens, TokenKind.Punctuation, start, i + 1, ':');
        continue;
      }
      case DOT: {
        const next = text.charCodeAt(i + 1);
        if (isDigit(next)) i = emit(tokens, TokenKind.Number, start, skipNumber(text, i));
        else if (next === DOT) i = emit(tokens, TokenKind.Punctuation, start, i + 2, '..');
        else i = emit(tokens, TokenKind.Punctuation, start, i + 1, '.');
        continue;
      }
      default: {
        const cls = charClass(c);
        if (cls & DIGIT) i = emit(tokens, TokenKind.Number, start, skipNumber(text, i));
        else if (cls & IDENT_START) i = lexWord(tokens, text, i, backslashInPlain);
        else if (cls & OP_CHAR) i = lexOperator(tokens, text, i);
        else i = emit(tokens, TokenKind.Other, start, i + 1, text.charAt(start));
      }
    }
  }
  return tokens;
}

/**
 * Pushes a literal whose scan ended at `end`, or ran off the text when `end` is -1 (every
 * unterminated token ends at the end of the text). Returns where lexing resumes.
 */
function pushLiteral(tokens: Token[], kind: TokenKind, start: number, end: number, n: number): number {
  if (end < 0) {
    tokens.push(token(kind, start, n, undefined, true));
    return n;
  }
  tokens.push(token(kind, start, end));
  return end;
}

function pushQuotedIdentifier(
  tokens: Token[],
  text: string,
  start: number,
  end: number,
  prefixLength: number,
): number {
  if (end < 0) return pushLiteral(tokens, TokenKind.QuotedIdentifier, start, end, text.length);
  // A U&"..." name needs its escapes decoded with the UESCAPE that may follow: left to the parser.
  let value: string | undefined;
  if (prefixLength === 1) {
    value = text.slice(start + 1, end - 1);
    if (value.includes('""')) value = value.replaceAll('""', '"');
  }
  tokens.push(token(TokenKind.QuotedIdentifier, start, end, value));
  return end;
}

/**
 * A word, or a literal with a letter prefix: B'' X'' E'' N'' U&'' U&"". The prefix must touch the
 * quote; `ex'..'` is the word `ex` followed by a string.
 */
function lexWord(tokens: Token[], text: string, i: number, backslashInPlain: boolean): number {
  const start = i;
  const c = text.charCodeAt(i);
  const next = text.charCodeAt(i + 1);
  const n = text.length;
  if (next === QUOTE) {
    switch (c | 0x20) {
      case 0x62: // b
      case 0x78: // x
        return pushLiteral(tokens, TokenKind.BitString, start, skipQuoted(text, i + 2, false, false), n);
      case 0x65: // e
        return pushLiteral(tokens, TokenKind.String, start, skipQuoted(text, i + 2, true, true), n);
      case 0x6e: // n: PostgreSQL lexes N'..' as the keyword NCHAR then a plain string; we keep one token.
        return pushLiteral(
          tokens,
          TokenKind.String,
          start,
          skipQuoted(text, i + 2, backslashInPlain, true),
          n,
        );
    }
  } else if (next === AMP && (c | 0x20) === 0x75) {
    const quote = text.charCodeAt(i + 2);
    // Backslash is the Unicode escape character here, never a quote escape.
    if (quote === QUOTE)
      return pushLiteral(tokens, TokenKind.String, start, skipQuoted(text, i + 3, false, true), n);
    if (quote === DQUOTE)
      return pushQuotedIdentifier(tokens, text, start, skipQuotedIdentifier(text, i + 3), 3);
  }

  let upper = false;
  let high = false;
  for (; i < n; i++) {
    const d = text.charCodeAt(i);
    if (!(charClass(d) & IDENT_CONT)) break;
    if (d >= 0x41 && d <= 0x5a) upper = true;
    else if (d >= 128) high = true;
  }
  const word = text.slice(start, i);
  tokens.push(token(TokenKind.Identifier, start, i, upper ? downcase(word, high) : word));
  return i;
}

/**
 * PostgreSQL downcases only A-Z in identifiers and keywords (in UTF-8 databases), so `É` stays `É`
 * where `toLowerCase` would change it.
 */
function downcase(word: string, hasNonAscii: boolean): string {
  return hasNonAscii ? word.replace(/[A-Z]+/g, (s) => s.toLowerCase()) : word.toLowerCase();
}

/** `$1` parameter, `$tag$...$tag$` string, or a lone `$` (an "other" character to the server). */
function lexDollar(tokens: Token[], text: string, i: number): number {
  const start = i;
  const next = text.charCodeAt(i + 1);
  if (isDigit(next)) {
    i += 2;
    while (isDigit(text.charCodeAt(i))) i++;
    // PostgreSQL 17.x raises "trailing junk after parameter" for $1abc; keep it one token like it does.
    if (charClass(text.charCodeAt(i)) & IDENT_START) i = skipIdentCont(text, i);
    tokens.push(token(TokenKind.Param, start, i));
    return i;
  }
  // A tag is identifier-like but cannot start with a digit or contain $.
  let tagEnd = i + 1;
  if (charClass(next) & IDENT_START) {
    do {
      tagEnd++;
    } while (charClass(text.charCodeAt(tagEnd)) & DOLQ_CONT);
  }
  if (text.charCodeAt(tagEnd) !== DOLLAR) {
    // `$` alone or `$abc` without a closing `$`: the server returns `$` by itself and lexes on.
    tokens.push(token(TokenKind.Other, start, i + 1, '$'));
    return i + 1;
  }
  const delimiter = text.slice(start, tagEnd + 1);
  // No text between delimiters is special, so the first identical delimiter closes the string.
  const close = text.indexOf(delimiter, tagEnd + 1);
  return pushLiteral(tokens, TokenKind.String, start, close < 0 ? -1 : close + delimiter.length, text.length);
}

/**
 * An operator, cut the way PostgreSQL cuts it: it stops before an embedded comment start, and a
 * trailing + or - is split off unless the operator holds a character SQL's own operators never use
 * (so `=-1` is `=` then `-`, while `@-` stays one operator).
 */
function lexOperator(tokens: Token[], text: string, i: number): number {
  const start = i;
  let end = i + 1;
  let prev = text.charCodeAt(i);
  let nonSql = (charClass(prev) & NON_SQL_OP) !== 0;
  for (;;) {
    const c = text.charCodeAt(end);
    if (!(charClass(c) & OP_CHAR)) break;
    if ((prev === SLASH && c === STAR) || (prev === DASH && c === DASH)) {
      end--;
      break;
    }
    nonSql ||= (charClass(c) & NON_SQL_OP) !== 0;
    prev = c;
    end++;
  }
  if (!nonSql) {
    while (end - start > 1) {
      const last = text.charCodeAt(end - 1);
      if (last !== PLUS && last !== DASH) break;
      end--;
    }
  }
  tokens.push(token(TokenKind.Operator, start, end, text.slice(start, end)));
  return end;
}

/**
 * Scans a quote-delimited literal from just after its opening quote; returns the end, or -1.
 * `backslash`: `\` escapes the next character (E'' strings, and '' ones when standard_conforming_strings
 * is off). `doubled`: `''` is a quote inside the literal (not in B'' and X'').
 * A literal continues into another quoted segment after whitespace holding a newline.
 */
function skipQuoted(text: string, i: number, backslash: boolean, doubled: boolean): number {
  const n = text.length;
  for (;;) {
    if (backslash) {
      for (;;) {
        if (i >= n) return -1;
        const c = text.charCodeAt(i);
        if (c === QUOTE) break;
        i += c === BACKSLASH ? 2 : 1;
      }
    } else {
      i = text.indexOf("'", i);
      if (i < 0) return -1;
    }
    if (doubled && text.charCodeAt(i + 1) === QUOTE) {
      i += 2;
      continue;
    }
    const next = continuationQuote(text, i + 1);
    if (next < 0) return i + 1;
    i = next + 1;
  }
}

/**
 * SQL concatenates 'a' and 'b' separated by whitespace that holds at least one newline; `--` comments
 * count as whitespace there, block comments do not. Returns the position of the next segment's
 * opening quote, or -1 when the literal ends at `i`.
 */
function continuationQuote(text: string, i: number): number {
  const n = text.length;
  let newline = false;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === LF || c === CR) {
      newline = true;
      i++;
    } else if (c === SPACE || c === TAB || c === FF || c === VT) {
      i++;
    } else if (c === DASH && text.charCodeAt(i + 1) === DASH) {
      i = lineEnd(text, i + 2);
    } else {
      return c === QUOTE && newline ? i : -1;
    }
  }
  return -1;
}

/** Scans `"..."` from just after the opening quote; `""` is a quote in the name. Returns end or -1. */
function skipQuotedIdentifier(text: string, i: number): number {
  for (;;) {
    const close = text.indexOf('"', i);
    if (close < 0) return -1;
    if (text.charCodeAt(close + 1) !== DQUOTE) return close + 1;
    i = close + 2;
  }
}

/** Block comments nest, unlike C's. Scans from just after the opening `/*`; returns end or -1. */
function skipBlockComment(text: string, i: number): number {
  const n = text.length;
  let depth = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === STAR && text.charCodeAt(i + 1) === SLASH) {
      if (depth === 0) return i + 2;
      depth--;
      i += 2;
    } else if (c === SLASH && text.charCodeAt(i + 1) === STAR) {
      depth++;
      i += 2;
    } else {
      i++;
    }
  }
  return -1;
}

/** A `--` comment runs to the next \n or \r, or to the end of the text. */
function lineEnd(text: string, i: number): number {
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === LF || c === CR) return i;
    i++;
  }
  return n;
}

function skipIdentCont(text: string, i: number): number {
  while (charClass(text.charCodeAt(i)) & IDENT_CONT) i++;
  return i;
}

/** Digits with single underscores between them (PostgreSQL 16+: `1_000_000`). */
function skipDigits(text: string, i: number): number {
  const start = i;
  for (;;) {
    const c = text.charCodeAt(i);
    if (isDigit(c)) i++;
    else if (c === UNDERSCORE && i > start && isDigit(text.charCodeAt(i + 1))) i += 2;
    else return i;
  }
}

/**
 * A numeric constant from its first digit (or its leading `.`). Where PostgreSQL raises "trailing
 * junk after numeric literal" (`1abc`, `1.5e`, `0x1g`), the token covers the junk as the server's
 * longest match does.
 */
function skipNumber(text: string, i: number): number {
  if (text.charCodeAt(i) === 0x30) {
    const base = text.charCodeAt(i + 1) | 0x20;
    // 0x1F, 0o17, 0b101: every valid or failed form is "0" plus the identifier-like run after it.
    if (base === 0x78 || base === 0x6f || base === 0x62) return skipIdentCont(text, i + 1);
  }
  let j = skipDigits(text, i);
  if (text.charCodeAt(j) === DOT) {
    // 1..10 is 1, .., 10 (a PL/pgSQL range).
    if (text.charCodeAt(j + 1) === DOT) return j;
    j = skipDigits(text, j + 1);
  }
  if ((text.charCodeAt(j) | 0x20) === 0x65) {
    let k = j + 1;
    const sign = text.charCodeAt(k);
    if (sign === PLUS || sign === DASH) k++;
    if (isDigit(text.charCodeAt(k))) j = skipDigits(text, k);
    else if (k > j + 1) return k; // `1e+` with no digits: an error token of its own
  }
  return charClass(text.charCodeAt(j)) & IDENT_START ? skipIdentCont(text, j) : j;
}
