import { PgError } from '../errors/pg-error.js';
import { SqlState } from '../errors/sqlstate.js';
import { SyntaxError as PeggySyntaxError, parse } from './generated/statement-parser.js';
import { type LexOptions, lex } from './lexer.js';
import type { ProcgateStatement, Span } from './statement-ast.js';

/**
 * A statement error found before PostgreSQL sees the statement, with its
 * UTF-16 offset in the client's text (turned into PostgreSQL's position later).
 */
export class StatementError extends Error {
  readonly code: string;
  readonly offset: number;

  constructor(code: string, message: string, offset: number) {
    super(message);
    this.name = 'StatementError';
    this.code = code;
    this.offset = offset;
  }

  toPgError(position: number): PgError {
    return new PgError({ code: this.code, message: this.message, position });
  }
}

/**
 * Parses one of our statements: `span` is where it is in the client's
 * `text`. Throws a {@link StatementError} 42601 pointing at the offending
 * token, as PostgreSQL words its syntax errors.
 */
export function parseStatement(text: string, span: Span, options?: LexOptions): ProcgateStatement {
  const statementText = text.slice(span.start, span.end);
  try {
    return parse(statementText, {
      offset: span.start,
      standardConformingStrings: options?.standardConformingStrings !== false,
    }) as ProcgateStatement;
  } catch (error) {
    if (!(error instanceof PeggySyntaxError)) throw error;
    const offset = span.start + error.location.start.offset;
    // Errors raised by the grammar's own checks (e.g. a repeated clause) carry their message.
    const message =
      (error.expected as unknown) === null
        ? error.message
        : syntaxErrorMessage(text, offset, span.end, options);
    throw new StatementError(SqlState.syntaxError, message, offset);
  }
}

/** `syntax error at or near "x"`, naming the token at `offset`, or `at end of input`. */
function syntaxErrorMessage(text: string, offset: number, end: number, options?: LexOptions): string {
  const token = lex(text.slice(offset, end), options)[0];
  if (token === undefined) return 'syntax error at end of input';
  return `syntax error at or near "${text.slice(offset + token.start, offset + token.end)}"`;
}
