import type { CreateProcedure, Option, ParameterDeclaration } from '../statement-ast.js';
import type { SqlBuilder } from './sql-builder.js';
import { writeValue } from './value-expressions.js';

/**
 * CREATE PROCEDURE → `SELECT * FROM procgate.create_procedure(...)`. Types
 * become `pg_typeof(NULL::type)` so PostgreSQL checks the type names,
 * defaults are evaluated once, at creation, cast to their declared types.
 */
export function rewriteCreateProcedure(b: SqlBuilder, source: string, statement: CreateProcedure): void {
  const { body } = statement;
  b.sql('SELECT * FROM procgate.create_procedure(name => ').literal(statement.name.value);
  b.sql(`, or_replace => ${statement.orReplace}`);
  b.sql(', language => ').literal(body.kind);
  b.sql(', type_name => ');
  if (body.kind === 'type') b.copy(body.typeName);
  else b.sql('NULL');
  b.sql(', command => ');
  if (body.kind === 'command') b.copy(body.command);
  else b.sql('NULL');
  b.sql(', args => ARRAY[');
  if (body.kind === 'command') b.list(body.args, (arg) => b.copy(arg));
  b.sql(']::text[]');
  b.sql(', execution_mode => ');
  if (statement.executionMode === null) b.sql('NULL');
  else b.literal(statement.executionMode);

  b.sql(', parameters => ');
  if (statement.parameters === null) b.sql('NULL');
  else {
    b.sql('ARRAY[').list(statement.parameters, (parameter) => writeParameter(b, source, parameter));
    b.sql(']::procgate.param_def[]');
  }

  b.sql(', files => ARRAY[');
  b.list(statement.files, (file) => {
    b.sql('procgate.file(').copy(file.path).sql(', ').copy(file.value).sql(')');
  });
  b.sql(']::procgate.file_value[]');

  b.sql(', returns => ');
  if (statement.returns === null) b.sql('NULL');
  else {
    b.sql('ARRAY[');
    b.list(statement.returns, (column) => {
      b.sql('procgate.column(')
        .literal(column.name.value)
        .sql(', pg_typeof(NULL::')
        .copy(column.type)
        .sql('))');
    });
    b.sql(']::procgate.column_def[]');
  }

  b.sql(', options => ');
  writeOptions(b, source, statement.options, statement.parameters);
  b.sql(')');
}

function writeParameter(b: SqlBuilder, source: string, parameter: ParameterDeclaration): void {
  b.sql('procgate.param(').literal(parameter.name.value).sql(', ');
  if (parameter.type === null) b.sql('NULL::regtype');
  else b.sql('pg_typeof(NULL::').copy(parameter.type).sql(')');
  b.sql(`, ${parameter.table}, ${parameter.defaultValue !== null}, `);
  if (parameter.defaultValue === null) b.sql('NULL');
  else if (parameter.type === null) {
    b.sql('to_jsonb(');
    writeValue(b, source, parameter.defaultValue, undefined);
    b.sql(')');
  } else {
    // A default is assigned to its parameter: cast it to the declared type.
    b.sql('to_jsonb((').copy(parameter.defaultValue).sql(')::').copy(parameter.type).sql(')');
  }
  b.sql(')');
}

/** WITH values: options of the procedure, or defaults of its parameters (typed as declared). */
export function writeOptions(
  b: SqlBuilder,
  source: string,
  options: readonly Option[],
  parameters: readonly ParameterDeclaration[] | null,
): void {
  b.sql('ARRAY[');
  b.list(options, (option) => {
    const declared =
      parameters?.find((parameter) => parameter.name.value === option.name.value)?.type ?? null;
    b.sql('procgate.arg(').literal(option.name.value).sql(', NULL, ');
    writeValue(b, source, option.value, declared === null ? undefined : { kind: 'span', span: declared });
    b.sql(')');
  });
  b.sql(']::procgate.arg_value[]');
}
