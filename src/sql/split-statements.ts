import { type LexOptions, lex, type Token, TokenKind } from './lexer.js';

/** One statement of a multi-statement text. */
export interface StatementSpan {
  /** UTF-16 offset of the statement's first token. */
  readonly start: number;
  /** UTF-16 offset just past its last token (before the `;`, and before any trailing comment). */
  readonly end: number;
  /** Its tokens, without the `;` that ends it. */
  readonly tokens: readonly Token[];
}

/**
 * Splits a simple-Query text into statements where PostgreSQL's server does: at each `;` that is not
 * inside a literal, a comment, parentheses, or the `BEGIN ATOMIC ... END` body of a
 * `CREATE [OR REPLACE] FUNCTION | PROCEDURE`. Empty statements (`;;`) are omitted, as the server omits
 * them.
 *
 * Parentheses count because `CREATE RULE ... DO ( INSERT ...; INSERT ... )` is one statement; any other
 * `;` inside parentheses is a syntax error, and the server rejects the whole text before running any of
 * it, so where we split such a text does not matter.
 *
 * @example
 * splitStatements('SELECT 1; SELECT 2').map((s) => [s.start, s.end]) // [[0, 8], [10, 18]]
 */
export function splitStatements(text: string, options?: LexOptions): StatementSpan[] {
  const tokens = lex(text, options);
  const statements: StatementSpan[] = [];
  let first = 0;
  let parens = 0;
  let body = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === TokenKind.Punctuation) {
      if (t.value === '(') parens++;
      else if (t.value === ')') parens = parens > 0 ? parens - 1 : 0;
      else if (t.value === ';' && parens === 0 && body === 0) {
        pushStatement(statements, tokens, first, i);
        first = i + 1;
      }
    } else if (t.kind === TokenKind.Identifier) {
      body = bodyDepth(tokens, i, first, parens, body);
    }
  }
  pushStatement(statements, tokens, first, tokens.length);
  return statements;
}

function pushStatement(statements: StatementSpan[], tokens: Token[], from: number, to: number): void {
  if (from === to) return;
  statements.push({ start: tokens[from]!.start, end: tokens[to - 1]!.end, tokens: tokens.slice(from, to) });
}

/**
 * Tracks nesting of SQL-standard routine bodies (PostgreSQL 14+). Inside `BEGIN ATOMIC`, `CASE ... END`
 * and nested `BEGIN ATOMIC ... END` pair up (END and CASE are reserved words, so every one counts);
 * the body ends at the `END` that brings the depth back to 0.
 *
 * Unlike psql we require ATOMIC after BEGIN: BEGIN is an unreserved word, so `SELECT begin FROM t`
 * inside a body is a column, and the transaction-statement BEGIN is not allowed in a body.
 */
function bodyDepth(tokens: Token[], i: number, first: number, parens: number, depth: number): number {
  const word = tokens[i]!.value;
  if (depth > 0) {
    if (word === 'case') return depth + 1;
    if (word === 'end') return depth - 1;
    return word === 'begin' && isWord(tokens[i + 1], 'atomic') ? depth + 1 : depth;
  }
  if (word === 'begin' && parens === 0 && isWord(tokens[i + 1], 'atomic') && definesRoutine(tokens, first)) {
    return 1;
  }
  return 0;
}

/** Whether the statement starting at `first` is CREATE [OR REPLACE] FUNCTION | PROCEDURE. */
function definesRoutine(tokens: Token[], first: number): boolean {
  if (!isWord(tokens[first], 'create')) return false;
  let i = first + 1;
  if (isWord(tokens[i], 'or') && isWord(tokens[i + 1], 'replace')) i += 2;
  return isWord(tokens[i], 'function') || isWord(tokens[i], 'procedure');
}

function isWord(token: Token | undefined, word: string): boolean {
  return token !== undefined && token.kind === TokenKind.Identifier && token.value === word;
}
