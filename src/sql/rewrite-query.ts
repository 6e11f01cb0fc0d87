import type { PgError } from '../errors/pg-error.js';
import type { LexOptions } from './lexer.js';
import { parseStatement, StatementError } from './parse-statement.js';
import type { ProcedureCatalog, ProcedureInfo } from './procedure-catalog.js';
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

/** A change to the catalog that the text makes if it succeeds: a procedure created (info) or dropped (null). */
export interface CatalogEffect {
  readonly name: string;
  readonly info: ProcedureInfo | null;
}

export type QueryRewrite =
  | { readonly kind: 'passthrough' }
  | {
    readonly kind: 'rewritten';
    readonly text: string;
    readonly positions: PositionMap;
    readonly effects: readonly CatalogEffect[];
    /** The text has a CALL of ours, which must commit its run and so cannot run in a transaction block. */
    readonly hasCall: boolean;
    /** Our statements, by their index among all the statements of the text, and which are CALLs. */
    readonly ours: readonly OurStatement[];
  };

/** One of our statements in a text: the how-manieth statement it is (from 0), and whether it is a CALL. */
export interface OurStatement {
  readonly index: number;
  readonly call: boolean;
}

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
  const ours = splitStatements(text, context)
    .map((statement, index) => ({ ...statement, index }))
    .filter((statement) => isProcgateStatement(statement.tokens, context.catalog));
  if (ours.length === 0) return PASSTHROUGH;

  const b = new SqlBuilder(text);
  const rewritten: RewrittenStatement[] = [];
  const effects: CatalogEffect[] = [];
  const statements: OurStatement[] = [];
  let hasCall = false;
  let copied = 0;
  for (const span of ours) {
    b.copy({ start: copied, end: span.start });
    const outputStart = b.outputLength;
    let error: PgError | undefined;
    try {
      // Written apart first: a statement that fails half-way leaves nothing behind.
      const statement = new SqlBuilder(text);
      const parsed = parseStatement(text, span, context);
      writeStatement(statement, text, parsed, context);
      b.append(statement);
      hasCall ||= parsed.kind === 'call-procedure';
      statements.push({ index: span.index, call: parsed.kind === 'call-procedure' });
      const effect = catalogEffect(text, parsed);
      if (effect !== undefined) effects.push(effect);
    } catch (caught) {
      if (!(caught instanceof StatementError)) throw caught;
      error = caught.toPgError(toPgPosition(text, caught.offset));
      b.sql(ERROR_MARKER);
      statements.push({ index: span.index, call: false });
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
    effects,
    hasCall,
    ours: statements,
  };
}

/** What CREATE and DROP PROCEDURE will change in the catalog, for the session to know at once. */
function catalogEffect(source: string, statement: ProcgateStatement): CatalogEffect | undefined {
  if (statement.kind === 'drop-procedure') return { name: statement.name.value, info: null };
  if (statement.kind !== 'create-procedure') return undefined;
  const parameters =
    statement.parameters?.map((parameter) => ({
      name: parameter.name.value,
      type: parameter.type === null ? null : source.slice(parameter.type.start, parameter.type.end),
      table: parameter.table,
    })) ?? null;
  return { name: statement.name.value, info: { parameters } };
}

function writeStatement(
  b: SqlBuilder,
  source: string,
  statement: ProcgateStatement,
  context: RewriteContext,
): void {
  switch (statement.kind) {
    case 'create-procedure':
      rewriteCreateProcedure(b, source, statement);
      break;
    case 'execute-procedure':
      rewriteInvocation(b, source, statement, 'execute', context.catalog);
      break;
    case 'call-procedure':
      rewriteInvocation(b, source, statement, 'call', context.catalog);
      break;
    case 'kill-run':
      rewriteKillRun(b, statement);
      break;
    case 'kill-runs':
      rewriteKillRuns(b, source, statement);
      break;
    case 'drop-procedure':
      rewriteDropProcedure(b, statement);
      break;
    case 'show-procedures':
      rewriteShowProcedures(b, statement);
      break;
    case 'show-procedure':
      rewriteShowProcedure(b, statement);
      break;
    case 'show-procedure-status':
      rewriteShowProcedureStatus(b, source, statement);
      break;
    case 'grant-execute':
    case 'revoke-execute':
      rewriteGrantExecute(b, statement);
      break;
  }
}
