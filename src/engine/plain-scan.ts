import { lex, type Token, TokenKind } from '../sql/lexer.js';

/**
 * A TABLE query that is one plain scan of one relation: `TABLE t`, or
 * `SELECT list FROM t [[AS] alias] [WHERE condition]`. Every row it gives
 * comes from one row of `t` on its own, so the union of the query over
 * disjoint ctid ranges of `t` is the query over all of `t`: segments can
 * read their shares straight from `t`, each with its ctid range added to
 * the WHERE.
 */
export interface PlainScan {
  /** The relation's name as written, part by part (`schema`, `table`), unquoted. */
  readonly relation: readonly string[];
  /** The select list's text (`*` for `TABLE t`). */
  readonly list: string;
  /** The alias as written, or empty. */
  readonly alias: string;
  /** The WHERE condition's text, or undefined. */
  readonly where: string | undefined;
  /** Names of the functions the query calls (lower case for unquoted ones): none may be an aggregate or a window function. */
  readonly functions: readonly string[];
}

/**
 * Words that may make a query more than one plain scan, wherever they
 * stand: subqueries, grouping, ordering, limits, set operations, windows,
 * joins, locking, sampling, inheritance, SELECT INTO.
 */
const REFUSED = new Set([
  'select', 'distinct', 'group', 'having', 'order', 'limit', 'offset', 'fetch', 'union', 'intersect', 'except',
  'window', 'over', 'filter', 'within', 'join', 'natural', 'cross', 'inner', 'left', 'right', 'full', 'lateral',
  'for', 'into', 'tablesample', 'only', 'with', 'returning', 'values', 'using', 'on', 'rows', 'table',
]);

/**
 * Whether `query` is one plain scan, told from its tokens alone; anything
 * this does not recognize is not one (the caller then stages the input).
 * Whether the relation is a table or a materialized view, and whether the
 * functions are plain ones, the catalog tells (see run-planner.ts).
 */
export function plainScan(query: string): PlainScan | undefined {
  const tokens = lex(query).filter((token) => token.kind !== TokenKind.Comment);
  while (tokens.length > 0 && isPunctuation(tokens[tokens.length - 1], ';')) tokens.pop();
  if (tokens.some((token) => token.unterminated === true || token.kind === TokenKind.Other || isPunctuation(token, ';'))) {
    return undefined;
  }
  const first = tokens[0];
  if (first?.kind !== TokenKind.Identifier) return undefined;
  if (first.value === 'table') {
    const name = relationName(tokens, 1);
    if (name === undefined || name.next !== tokens.length) return undefined;
    return { relation: name.parts, list: '*', alias: '', where: undefined, functions: [] };
  }
  if (first.value !== 'select') return undefined;
  const from = topLevelFrom(tokens);
  if (from === undefined || from === 1) return undefined;
  const name = relationName(tokens, from + 1);
  if (name === undefined) return undefined;
  let at = name.next;
  let alias = '';
  if (isWord(tokens[at], 'as')) at += 1;
  const aliasToken = tokens[at];
  if (aliasToken !== undefined && !isWord(aliasToken, 'where') && isName(aliasToken)) {
    alias = query.slice(aliasToken.start, aliasToken.end);
    at += 1;
  } else if (isWord(tokens[at - 1], 'as')) {
    return undefined;
  }
  let where: string | undefined;
  if (at < tokens.length) {
    if (!isWord(tokens[at], 'where') || at + 1 >= tokens.length) return undefined;
    where = query.slice(tokens[at + 1]!.start, tokens[tokens.length - 1]!.end);
  }
  const body = [...tokens.slice(1, from), ...tokens.slice(at)];
  if (body.some((token) => token.kind === TokenKind.Identifier && REFUSED.has(token.value ?? ''))) return undefined;
  return {
    relation: name.parts,
    list: query.slice(tokens[1]!.start, tokens[from - 1]!.end),
    alias,
    where,
    functions: calledFunctions(body),
  };
}

/** The position of the FROM outside any parentheses, if there is one. */
function topLevelFrom(tokens: readonly Token[]): number | undefined {
  let depth = 0;
  for (const [index, token] of tokens.entries()) {
    if (isPunctuation(token, '(') || isPunctuation(token, '[')) depth += 1;
    else if (isPunctuation(token, ')') || isPunctuation(token, ']')) depth -= 1;
    else if (depth === 0 && isWord(token, 'from')) return index;
  }
  return undefined;
}

/** `name` or `schema.name` from `at`, and where what follows starts. */
function relationName(tokens: readonly Token[], at: number): { parts: string[]; next: number } | undefined {
  const first = tokens[at];
  if (first === undefined || !isName(first)) return undefined;
  if (!isPunctuation(tokens[at + 1], '.')) return { parts: [first.value ?? ''], next: at + 1 };
  const second = tokens[at + 2];
  if (second === undefined || !isName(second) || isPunctuation(tokens[at + 3], '.')) return undefined;
  return { parts: [first.value ?? '', second.value ?? ''], next: at + 3 };
}

/** Each name right before a `(`: what the query calls. */
function calledFunctions(tokens: readonly Token[]): string[] {
  const names: string[] = [];
  for (const [index, token] of tokens.entries()) {
    if (isName(token) && isPunctuation(tokens[index + 1], '(')) names.push(token.value ?? '');
  }
  return names;
}

function isName(token: Token): boolean {
  return (
    (token.kind === TokenKind.Identifier && !REFUSED.has(token.value ?? '') && token.value !== 'from') ||
    (token.kind === TokenKind.QuotedIdentifier && token.value !== undefined && token.value !== '')
  );
}

function isWord(token: Token | undefined, word: string): boolean {
  return token?.kind === TokenKind.Identifier && token.value === word;
}

function isPunctuation(token: Token | undefined, text: string): boolean {
  return token?.kind === TokenKind.Punctuation && token.value === text;
}
