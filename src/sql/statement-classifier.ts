import type { LexOptions } from './lexer.js';
import { splitStatements } from './split-statements.js';

/** What the proxy should do with a client's statement text. */
export type Classification = { readonly kind: 'passthrough' };

const PASSTHROUGH: Classification = { kind: 'passthrough' };

/**
 * First words that can begin one of procgate's own statements. Text without
 * any of them is PostgreSQL's without lexing it.
 */
const LEADING_WORDS = /create|execute|call|drop|show|kill/i;

/**
 * Decides whether a Query or Parse text holds statements of ours. Today
 * procgate has none, so everything passes through; the statement issues plug
 * their recognisers in here.
 */
export function classifyStatements(text: string, options?: LexOptions): Classification {
  if (!LEADING_WORDS.test(text)) return PASSTHROUGH;
  for (const statement of splitStatements(text, options)) {
    if (isOurs(statement.tokens)) {
      // Unreachable until our statements exist.
      return PASSTHROUGH;
    }
  }
  return PASSTHROUGH;
}

function isOurs(_tokens: ReadonlyArray<{ readonly value?: string }>): boolean {
  return false;
}
