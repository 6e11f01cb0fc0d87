import type { PgError } from '../errors/pg-error.js';
import type { LexOptions } from './lexer.js';
import { parseStatement, StatementError } from './parse-statement.js';
import type { ProcedureCatalog } from './procedure-catalog.js';
import { isProcgateStatement } from './recognize-statement.js';
import { PositionMap, type RewrittenStatement } from './rewrite/position-map.js';
import {
  rewriteDropProcedure,
  rewriteGrantExecute,
  rewriteKillRun,
  rewriteKillRuns,
  rewriteShowProcedure,
  rewriteShowProcedureStatus,
  rewriteShowProcedures,
} from './rewrite/rewrite-control-statements.js';
import { rewriteCreateProcedure } from './rewrite/rewrite-create-procedure.js';
import { rewriteInvocation } from './rewrite/rewrite-invocation.js';
import { SqlBuilder } from './rewrite/sql-builder.js';
import { splitStatements } from './split-statements.js';
import type { ProcgateStatement } from './statement-ast.js';
import { toPgPosition } from './text-position.js';

export interface RewriteContext extends LexOptions {
  readonly catalog: ProcedureCatalog;
}

export type QueryRewrite =
  | { readonly kind: 'passthrough' }
  | { readonly kind: 'rewritten'; readonly text: string; readonly positions: PositionMap };

const PASSTHROUGH: QueryRewrite = { kind: 'passthrough' };

/** First words of our statements: text without any of them is PostgreSQL's, unlexed. */
const LEADING_WORDS = /create|execute|call|drop|show|kill|grant|revoke/i;

/**
 * A statement of ours with an error becomes this: PostgreSQL then fails to
 * parse the whole text exactly here, as it would fail on a syntax error of
 * its own (nothing runs, the transaction state is PostgreSQL's), and the
 * proxy puts our error in place of its message.
 */
export const ERROR_MARKER = 'procgate_statement_error';

/**
 * Rewrites the statements of ours in a Query or Parse text into calls of the
 * procgate SQL API, leaving every other character as the client sent it, so
 * a text mixing ours and PostgreSQL's keeps PostgreSQL's semantics (one
 * implicit transaction, an error stops the rest).
 */
export function rewriteQuery(text: string, context: RewriteContext): QueryRewrite {
  if (!LEADING_WORDS.test(text)) return PASSTHROUGH;
  const ours = splitStatements(text, context).filter((statement) =>
    isProcgateStatement(statement.tokens, context.catalog),
  );
  if (ours.length === 0) return PASSTHROUGH;

  const b = new SqlBuilder(text);
  const rewritten: RewrittenStatement[] = [];
  let copied = 0;
  for (const span of ours) {
    b.copy({ start: copied, end: span.start });
    const outputStart = b.outputLength;
    let error: PgError | undefined;
    try {
      // Written apart first: a statement that fails half-way leaves nothing behind.
      const statement = new SqlBuilder(text);
      writeStatement(statement, text, parseStatement(text, span, context), context);
      b.append(statement);
    } catch (caught) {
      if (!(caught instanceof StatementError)) throw caught;
      error = caught.toPgError(toPgPosition(text, caught.offset));
      b.sql(ERROR_MARKER);
    }
    rewritten.push({
      outputStart,
      outputEnd: b.outputLength,
      sourceStart: span.start,
      ...(error ? { error } : {}),
    });
    copied = span.end;
  }
  b.copy({ start: copied, end: text.length });
  const output = b.text();
  return {
    kind: 'rewritten',
    text: output,
    positions: new PositionMap(text, output, b.sourcePieces(), rewritten),
  };
}

function writeStatement(
  b: SqlBuilder,
  source: string,
  statement: ProcgateStatement,
  context: RewriteContext,
): void {
  switch (statement.kind) {
    case 'create-procedure':
      return rewriteCreateProcedure(b, source, statement);
    case 'execute-procedure':
      return rewriteInvocation(b, source, statement, 'execute', context.catalog);
    case 'call-procedure':
      return rewriteInvocation(b, source, statement, 'call', context.catalog);
    case 'kill-run':
      return rewriteKillRun(b, statement);
    case 'kill-runs':
      return rewriteKillRuns(b, source, statement);
    case 'drop-procedure':
      return rewriteDropProcedure(b, statement);
    case 'show-procedures':
      return rewriteShowProcedures(b, statement);
    case 'show-procedure':
      return rewriteShowProcedure(b, statement);
    case 'show-procedure-status':
      return rewriteShowProcedureStatus(b, source, statement);
    case 'grant-execute':
    case 'revoke-execute':
      return rewriteGrantExecute(b, statement);
  }
}
