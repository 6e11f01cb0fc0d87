import type { DeclaredParameter, ProcedureCatalog } from '../procedure-catalog.js';
import type { Argument, ArgumentValue, Invocation, Span } from '../statement-ast.js';
import type { SqlBuilder } from './sql-builder.js';
import { placeholdersIn, type TypeRef, writeValue } from './value-expressions.js';

/**
 * EXECUTE PROCEDURE / CALL → `SELECT * FROM procgate.execute|call(...)`.
 *
 * A TABLE (query) argument is kept as text, to be read when the run starts;
 * the rewrite also embeds the query once, in a `LIMIT 0` probe, so that
 * PostgreSQL checks it now (names, privileges, syntax, with positions in the
 * client's text) and deduces the types of the `$n` placeholders inside it
 * before their values are taken. Its PARTITION BY keys go into the probe as
 * the engine will use them (a window's ORDER BY over the query's rows), so
 * a misspelt column or a stray word fails the EXECUTE, as the caller and
 * with the caret in the client's text, not the run.
 */
export function rewriteInvocation(
  b: SqlBuilder,
  source: string,
  statement: Invocation,
  functionName: 'execute' | 'call',
  catalog: ProcedureCatalog,
): void {
  const declared = catalog.lookup(statement.name.value)?.parameters ?? null;
  const scalars: Array<{ argument: Argument; position: number; expression: Span }> = [];
  const tables: Array<{
    argument: Argument;
    position: number;
    value: Extract<ArgumentValue, { kind: 'table' }>;
  }> = [];
  statement.args.forEach((argument, index) => {
    if (argument.value.kind === 'table')
      tables.push({ argument, position: index + 1, value: argument.value });
    else scalars.push({ argument, position: index + 1, expression: argument.value.expression });
  });

  // CALL waits for its run, so it must commit it first: only a PostgreSQL procedure can.
  b.sql(functionName === 'call' ? 'CALL procgate.call_and_wait(name => ' : 'SELECT * FROM procgate.execute(name => ');
  b.literal(statement.name.value);

  // Tables first: their probes must deduce placeholder types before scalars use the same $n.
  b.sql(', tables => ARRAY[');
  b.list(tables, ({ argument, position, value }) => {
    b.sql('procgate.table_arg(');
    writeNameOrPosition(b, argument, position);
    b.sql(', ');
    if (value.source.kind === 'query') b.copyAsLiteral(value.source.query);
    else b.literal(`SELECT * FROM ${source.slice(value.source.name.start, value.source.name.end)}`);
    b.sql(', ');
    const query = value.source.kind === 'query' ? value.source.query : value.source.name;
    if (functionName === 'call') writeUncheckedPlaceholderValues(b, source, query, value.source.kind);
    else writePlaceholderValues(b, source, query, value.source.kind, value.partitionBy);
    b.sql(', ARRAY[');
    b.list(value.partitionBy, (key) => b.copyAsLiteral(key));
    b.sql(']::text[])');
  });
  b.sql(']::procgate.table_value[]');

  b.sql(', args => ARRAY[');
  b.list(scalars, ({ argument, position, expression }) => {
    b.sql('procgate.arg(');
    writeNameOrPosition(b, argument, position);
    b.sql(', ');
    writeValue(b, source, expression, declaredType(declared, argument, position));
    b.sql(')');
  });
  b.sql(']::procgate.arg_value[]');

  b.sql(', "into" => ARRAY[');
  b.list(statement.into, (table) => b.copyAsLiteral(table));
  b.sql(']::text[]');

  b.sql(', options => ARRAY[');
  b.list(statement.options, (option) => {
    b.sql('procgate.arg(').literal(option.name.value).sql(', NULL, ');
    writeValue(b, source, option.value, undefined);
    b.sql(')');
  });
  b.sql(']::procgate.arg_value[])');
}

function writeNameOrPosition(b: SqlBuilder, argument: Argument, position: number): void {
  if (argument.name === null) b.sql(`NULL, ${position}`);
  else b.literal(argument.name.value).sql(', NULL');
}

function declaredType(
  declared: readonly DeclaredParameter[] | null,
  argument: Argument,
  position: number,
): TypeRef | undefined {
  const parameter =
    argument.name === null
      ? declared?.[position - 1]
      : declared?.find((candidate) => candidate.name === argument.name!.value);
  return parameter?.type == null ? undefined : { kind: 'name', name: parameter.type };
}

/**
 * The same for CALL, whose arguments PostgreSQL allows no subquery in: the
 * query is not checked now, and its placeholders' values are kept as text
 * of type `unknown`: the engine puts them into the query as literals, so
 * PostgreSQL types them where they stand, as it types a quoted literal.
 */
function writeUncheckedPlaceholderValues(b: SqlBuilder, source: string, span: Span, kind: 'query' | 'relation'): void {
  const numbers = kind === 'query' ? placeholdersIn(source, span) : [];
  b.sql('jsonb_build_object(');
  b.list(numbers, (n) => {
    b.sql(`'${n}', jsonb_build_object('value', to_jsonb(($${n})::text), 'type', 'unknown')`);
  });
  b.sql(')');
}

/**
 * `(SELECT jsonb_build_object('1', {value, type}, ...) FROM (SELECT [keys] FROM (query) LIMIT 0) RIGHT JOIN one row)`:
 * always exactly one row, and the query and its partition keys are analysed
 * (FROM first) before the placeholders are typed.
 */
function writePlaceholderValues(
  b: SqlBuilder,
  source: string,
  span: Span,
  kind: 'query' | 'relation',
  partitionBy: readonly Span[],
): void {
  const numbers = kind === 'query' ? placeholdersIn(source, span) : [];
  b.sql('(SELECT jsonb_build_object(');
  b.list(numbers, (n) => {
    b.sql(`'${n}', jsonb_build_object('value', to_jsonb($${n}), 'type', pg_typeof($${n})::text)`);
  });
  b.sql(') FROM (SELECT ');
  if (partitionBy.length > 0) {
    // As the run planner ranks the rows (src/engine/run-planner.ts), so what passes here runs there.
    b.sql('pg_catalog.dense_rank() OVER (ORDER BY ');
    b.list(partitionBy, (key) => b.sql('(').copy(key).sql(')'));
    b.sql(') ');
  }
  b.sql('FROM ');
  if (kind === 'query') b.sql('(').copy(span).sql(')');
  else b.copy(span);
  b.sql(' AS procgate_input LIMIT 0) AS procgate_probe RIGHT JOIN (VALUES (1)) AS procgate_one (x) ON true)');
}
