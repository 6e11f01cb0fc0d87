import type pg from 'pg';
import type { InputQuery } from '../catalog/index.js';
import { lex, TokenKind } from '../sql/lexer.js';
import { canonicalTypes, executeAsRole } from './as-caller.js';

/**
 * The `$n` placeholders of a TABLE query written into its text as
 * literals, for statements that take no parameters (COPY).
 */

/** The query with each untyped `$n` replaced by its value as a quoted literal (or NULL). */
export function withLiterals(client: pg.ClientBase, input: InputQuery): string {
  const untyped = new Map(
    Object.entries(input.placeholders).filter(([, value]) => value.type === 'unknown'),
  );
  return replacePlaceholders(input.query, (n) => {
    const value = untyped.get(n);
    if (value === undefined) return undefined;
    return value.value === null ? 'NULL' : client.escapeLiteral(String(value.value));
  });
}

/**
 * The query with every `$n` replaced by its value: a typed one as
 * `CAST('text' AS type)`, its text as PostgreSQL writes the value (so it
 * reads back the same), an untyped one as withLiterals does. The values
 * are typed and written as `role` (see executeAsRole): a domain's CHECK or
 * a cast of the caller's type runs the caller's code.
 */
export async function withTypedLiterals(client: pg.ClientBase, role: string, input: InputQuery): Promise<string> {
  const typed = Object.entries(input.placeholders).filter(([, value]) => value.type !== 'unknown');
  const literals = new Map<string, string>();
  if (typed.length > 0) {
    const types = await canonicalTypes(client, typed.map(([, value]) => value.type));
    const texts = typed.map((_, index) => `$${String(index + 1)}::text`).join(', ');
    const table = client.escapeIdentifier(`procgate_literals_${String(process.pid)}`);
    await executeAsRole(
      client,
      role,
      `CREATE TEMP TABLE ${table} AS SELECT ARRAY[${texts}]::text[] AS texts`,
      typed.map(([, value], index) => ({ type: types[index]!, value: value.value })),
    );
    const { rows } = await client.query<{ texts: (string | null)[] }>(`SELECT texts FROM pg_temp.${table}`);
    await client.query(`DROP TABLE pg_temp.${table}`);
    typed.forEach(([n], index) => {
      const text = rows[0]?.texts[index] ?? null;
      literals.set(n, `CAST(${text === null ? 'NULL' : client.escapeLiteral(text)} AS ${types[index]!})`);
    });
  }
  const untyped = withLiterals(client, input);
  return replacePlaceholders(untyped, (n) => literals.get(n));
}

/** `text` with each `$n` that `literal` gives text for replaced by it. */
function replacePlaceholders(text: string, literal: (n: string) => string | undefined): string {
  let result = '';
  let at = 0;
  for (const token of lex(text)) {
    if (token.kind !== TokenKind.Param) continue;
    const replacement = literal(text.slice(token.start + 1, token.end));
    if (replacement === undefined) continue;
    result += text.slice(at, token.start) + replacement;
    at = token.end;
  }
  return result + text.slice(at);
}
