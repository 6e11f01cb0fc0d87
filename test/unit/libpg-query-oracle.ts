/**
 * PostgreSQL's own scanner and parser (libpg-query, a WASM build of PostgreSQL 17) as the oracle the
 * lexer and splitter tests compare against. Call `loadOracle()` once before using it.
 *
 * Known differences between libpg-query 17.3.2 and a real PostgreSQL 17 server, which the tests cover
 * with hand-written expectations instead:
 * - it does not continue a string across `--` comments ('a' -- c \n 'b'); the server does;
 * - it lexes `$1abc` as `$1` `abc`; the server (17.x) rejects it as trailing junk after a parameter;
 * - it throws on every input the scanner rejects (unterminated literals, number junk).
 */
import { loadModule, parseSync, type ScanToken, scanSync } from 'libpg-query';
import type { TokenKind } from '../../src/sql/lexer.js';

export interface TokenSpan {
  readonly kind: TokenKind;
  readonly start: number;
  readonly end: number;
}

export interface Span {
  readonly start: number;
  readonly end: number;
}

export async function loadOracle(): Promise<void> {
  await loadModule();
}

/** PostgreSQL's tokens of `text` (comments dropped), with UTF-16 offsets and our kinds. */
export function pgTokens(text: string): TokenSpan[] {
  const toUtf16 = utf16Offsets(text);
  const tokens = scan(text).filter((t) => t.tokenName !== 'SQL_COMMENT' && t.tokenName !== 'C_COMMENT');
  const out: TokenSpan[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const next = tokens[i + 1];
    // The server lexes N'x' as the keyword NCHAR ("N") and a string; we keep one string token.
    if (/^[nN]$/.test(t.text) && next?.start === t.end && next.text.startsWith("'")) {
      out.push({ kind: 'string', start: toUtf16(t.start), end: toUtf16(next.end) });
      i++;
      continue;
    }
    out.push({ kind: kindOf(t), start: toUtf16(t.start), end: toUtf16(t.end) });
  }
  return out;
}

/**
 * The statements PostgreSQL's parser finds in `text`: from each one's first token to its last, in
 * UTF-16 offsets (the parser's own locations include surrounding whitespace and comments).
 */
export function pgStatements(text: string): Span[] {
  const toUtf16 = utf16Offsets(text);
  const textBytes = Buffer.byteLength(text, 'utf8');
  const tokens = scan(text).filter(
    (t) => t.tokenName !== 'SQL_COMMENT' && t.tokenName !== 'C_COMMENT' && t.text !== ';',
  );
  return (parseSync(text).stmts ?? []).map((stmt) => {
    const from = stmt.stmt_location ?? 0;
    const to = stmt.stmt_len ? from + stmt.stmt_len : textBytes;
    const inside = tokens.filter((t) => t.start >= from && t.end <= to);
    return { start: toUtf16(inside[0]!.start), end: toUtf16(inside.at(-1)!.end) };
  });
}

/** Whether the server's parser accepts `text`. */
export function pgParses(text: string): boolean {
  try {
    parseSync(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * libpg-query builds its scan result as JSON without escaping control characters in token text (a
 * newline inside a string literal breaks it), so escape them before its own JSON.parse runs.
 */
function scan(text: string): ScanToken[] {
  const parse = JSON.parse;
  JSON.parse = ((json: string) => parse(escapeControls(json))) as typeof JSON.parse;
  try {
    return scanSync(text).tokens;
  } finally {
    JSON.parse = parse;
  }
}

function escapeControls(json: string): string {
  let out = '';
  for (const ch of json) {
    const code = ch.charCodeAt(0);
    out += code < 0x20 ? `\\u${code.toString(16).padStart(4, '0')}` : ch;
  }
  return out;
}

const PUNCTUATION = new Set(['(', ')', '[', ']', ',', ';', ':', '::', '.', '..']);

/** Our kind for one of PostgreSQL's tokens (libpg-query names many of them only "UNKNOWN"). */
function kindOf(t: ScanToken): TokenKind {
  if (t.keywordName !== 'NO_KEYWORD') return 'identifier';
  switch (t.tokenName) {
    case 'IDENT':
      return t.text.startsWith('"') ? 'quotedIdentifier' : 'identifier';
    case 'SCONST':
      return 'string';
    case 'ICONST':
    case 'FCONST':
      return 'number';
    case 'PARAM':
      return 'param';
  }
  if (/^[uU]&"/.test(t.text)) return 'quotedIdentifier';
  if (/^[uU]&'/.test(t.text)) return 'string';
  if (/^[bBxX]'/.test(t.text)) return 'bitString';
  if (PUNCTUATION.has(t.text)) return 'punctuation';
  if (t.text === ':=' || /^[~!@#^&|`?+\-*/%<>=]+$/.test(t.text)) return 'operator';
  return 'other';
}

/** Maps UTF-8 byte offsets (libpg-query's) to UTF-16 offsets (JavaScript's). */
function utf16Offsets(text: string): (byte: number) => number {
  const map: number[] = [];
  let offset = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const bytes = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    for (let b = 0; b < bytes; b++) map.push(offset);
    offset += ch.length;
  }
  map.push(offset);
  return (byte) => {
    const at = map[byte];
    if (at === undefined) throw new Error(`byte offset ${byte} outside text`);
    return at;
  };
}
