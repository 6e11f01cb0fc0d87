import { type Token, TokenKind } from './lexer.js';
import type { ProcedureCatalog } from './procedure-catalog.js';

/**
 * Decides from a statement's tokens whether it is one of ours, the way
 * docs/design.md ("How a statement flows") draws the line with
 * PostgreSQL's own statements:
 * - CREATE PROCEDURE is ours with `LANGUAGE command|javascript` or `TYPE '...'`;
 *   with any other language (sql, plpgsql ...) it is PostgreSQL's.
 * - EXECUTE PROCEDURE name(...) is ours; `EXECUTE stmt(...)` runs a prepared
 *   statement (even one named "procedure", which takes no name after it).
 * - CALL, DROP PROCEDURE and GRANT/REVOKE EXECUTE ON PROCEDURE are ours when
 *   the name is one of our procedures, else PostgreSQL's.
 * - KILL and SHOW PROCEDURE[S] are always ours (PostgreSQL has no KILL, and
 *   SHOW takes a setting name), except SHOW of a custom setting such as
 *   `procedure.retries`, which is PostgreSQL's.
 *
 * Names are read whole: in `probe.type` or `procedure.retries` neither word
 * is a keyword, and `GRANT ... ON PROCEDURE s.p` is not about our `s`.
 */
export function isProcgateStatement(tokens: readonly Token[], catalog: ProcedureCatalog): boolean {
  switch (word(tokens, 0)) {
    case 'create':
      return isOurCreate(tokens);
    case 'execute':
      return word(tokens, 1) === 'procedure' && isName(tokens[2]);
    case 'call':
      return (
        isName(tokens[1]) && tokens[2]?.value === '(' && catalog.lookup(nameOf(tokens[1]!)) !== undefined
      );
    case 'drop':
      return isOurDrop(tokens, catalog);
    case 'kill':
      return word(tokens, 1) === 'run' || word(tokens, 1) === 'runs';
    case 'show':
      return (word(tokens, 1) === 'procedures' || word(tokens, 1) === 'procedure') && !isDot(tokens[2]);
    case 'grant':
    case 'revoke':
      return (
        word(tokens, 1) === 'execute' &&
        word(tokens, 2) === 'on' &&
        word(tokens, 3) === 'procedure' &&
        isName(tokens[4]) &&
        !isDot(tokens[5]) &&
        catalog.lookup(nameOf(tokens[4]!)) !== undefined
      );
    default:
      return false;
  }
}

/** The statement may start with a few words in a few shapes; the first keywords are always unquoted. */
function word(tokens: readonly Token[], index: number): string | undefined {
  const token = tokens[index];
  return token?.kind === TokenKind.Identifier ? token.value : undefined;
}

function isName(token: Token | undefined): boolean {
  return (
    token?.kind === TokenKind.Identifier ||
    (token?.kind === TokenKind.QuotedIdentifier && !token.unterminated)
  );
}

function isDot(token: Token | undefined): boolean {
  return token?.kind === TokenKind.Punctuation && token.value === '.';
}

/** The index just past the (possibly qualified) name starting at `index`. */
function skipName(tokens: readonly Token[], index: number): number {
  let i = index;
  while (isName(tokens[i]) && isDot(tokens[i + 1])) i += 2;
  return i + 1;
}

function nameOf(token: Token): string {
  return token.value ?? '';
}

function isOurCreate(tokens: readonly Token[]): boolean {
  let index = 1;
  if (word(tokens, index) === 'or' && word(tokens, index + 1) === 'replace') index += 2;
  if (word(tokens, index) !== 'procedure') return false;
  // Look at the clauses after the name and its parameter list, outside parentheses.
  let depth = 0;
  for (let i = skipName(tokens, index + 1); i < tokens.length; i += 1) {
    const token = tokens[i]!;
    if (token.kind === TokenKind.Punctuation) {
      if (token.value === '(') depth += 1;
      else if (token.value === ')') depth -= 1;
      continue;
    }
    // A word next to a dot is part of a qualified name, never a clause keyword.
    if (depth !== 0 || token.kind !== TokenKind.Identifier || isDot(tokens[i - 1]) || isDot(tokens[i + 1])) continue;
    if (token.value === 'language') {
      const language = word(tokens, i + 1);
      return language === 'command' || language === 'javascript';
    }
    // TYPE after FOR belongs to PostgreSQL's TRANSFORM FOR TYPE.
    if (token.value === 'type' && word(tokens, i - 1) !== 'for') return true;
    if (token.value === 'as' || token.value === 'begin') return false;
  }
  return false;
}

function isOurDrop(tokens: readonly Token[], catalog: ProcedureCatalog): boolean {
  if (word(tokens, 1) !== 'procedure') return false;
  let index = 2;
  if (word(tokens, index) === 'if' && word(tokens, index + 1) === 'exists') index += 2;
  // PostgreSQL's DROP PROCEDURE takes argument types, several names, CASCADE: ours takes one bare name.
  return (
    tokens.length === index + 1 &&
    isName(tokens[index]) &&
    catalog.lookup(nameOf(tokens[index]!)) !== undefined
  );
}
