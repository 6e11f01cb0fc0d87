import { lex, TokenKind } from '../lexer.js';
import type { Span } from '../statement-ast.js';
import type { SqlBuilder } from './sql-builder.js';

/** A type to cast to: a SQL type name we know, or the client's own text of one. */
export type TypeRef =
  | { readonly kind: 'name'; readonly name: string }
  | { readonly kind: 'span'; readonly span: Span };

/**
 * Writes an argument expression for a polymorphic (anyelement) parameter.
 * PostgreSQL cannot type a lone string literal, NULL or `$n` there, so those
 * take the declared type when there is one, else text (as the README's
 * "Procedures in SQL" says of undeclared parameters). Any other expression keeps its own type and is
 * checked against the declaration by the SQL API function.
 */
export function writeValue(b: SqlBuilder, source: string, span: Span, declared: TypeRef | undefined): void {
  b.sql('(').copy(span).sql(')');
  if (!needsType(source, span)) return;
  b.sql('::');
  if (declared === undefined) b.sql('text');
  else if (declared.kind === 'name') b.sql(declared.name);
  else b.copy(declared.span);
}

function needsType(source: string, span: Span): boolean {
  const tokens = lex(source.slice(span.start, span.end));
  if (tokens.length !== 1) return false;
  const [token] = tokens;
  return (
    token!.kind === TokenKind.String ||
    token!.kind === TokenKind.Param ||
    (token!.kind === TokenKind.Identifier && token!.value === 'null')
  );
}

/** The distinct `$n` placeholders in a span, in ascending order. */
export function placeholdersIn(source: string, span: Span): number[] {
  const numbers = new Set<number>();
  for (const token of lex(source.slice(span.start, span.end))) {
    if (token.kind === TokenKind.Param)
      numbers.add(Number.parseInt(source.slice(span.start + token.start + 1, span.start + token.end), 10));
  }
  return [...numbers].sort((a, b) => a - b);
}
