/**
 * The composite types the rewriter builds our statements' arguments with,
 * and their constructors. The constructors run as the caller and only
 * package values: every check happens in the API functions.
 */
export const valueTypes = `
CREATE TYPE procgate.arg_value AS (name text, "position" int, value jsonb, type regtype);
CREATE TYPE procgate.table_value AS (
  name text, "position" int, query text, placeholders jsonb, partition_by text[]
);
CREATE TYPE procgate.file_value AS (path text, content bytea);
CREATE TYPE procgate.param_def AS (
  name text, type regtype, is_table boolean, has_default boolean, default_value jsonb
);
CREATE TYPE procgate.column_def AS (name text, type regtype);

-- The value keeps its SQL type, so a declared parameter can be checked against it.
CREATE FUNCTION procgate.arg(name text, "position" int, value anyelement) RETURNS procgate.arg_value
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$ SELECT ROW($1, $2, pg_catalog.to_jsonb($3), pg_catalog.pg_typeof($3))::procgate.arg_value $fn$;

-- An untyped literal, NULL or $n would leave anyelement undecided; they arrive as text.
CREATE FUNCTION procgate.arg(name text, "position" int, value text) RETURNS procgate.arg_value
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$ SELECT ROW($1, $2, pg_catalog.to_jsonb($3), 'text'::regtype)::procgate.arg_value $fn$;

CREATE FUNCTION procgate.table_arg(
  name text, "position" int, query text, placeholders jsonb, partition_by text[]
) RETURNS procgate.table_value
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$ SELECT ROW($1, $2, $3, $4, $5)::procgate.table_value $fn$;

CREATE FUNCTION procgate.file(path text, content text) RETURNS procgate.file_value
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$ SELECT ROW($1, pg_catalog.convert_to($2, 'UTF8'))::procgate.file_value $fn$;

CREATE FUNCTION procgate.file(path text, content bytea) RETURNS procgate.file_value
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$ SELECT ROW($1, $2)::procgate.file_value $fn$;

CREATE FUNCTION procgate.param(
  name text, type regtype, is_table boolean, has_default boolean, default_value jsonb
) RETURNS procgate.param_def
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$ SELECT ROW($1, $2, $3, $4, $5)::procgate.param_def $fn$;

CREATE FUNCTION procgate.column(name text, type regtype) RETURNS procgate.column_def
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$ SELECT ROW($1, $2)::procgate.column_def $fn$;
`;
