-- Values of our statements' arguments. The constructors (procgate.arg,
-- table_arg, file, param, column) run as the caller and only package
-- values; every check happens in the API functions. Parameters are stored
-- as {"value": <jsonb>, "type": "<type>"}: cast_to converts a value to a
-- declared parameter type, and is the one function here that runs as the
-- caller, since a declared type may be a domain whose CHECK calls user code.
-- The option_* helpers read WITH (...) options; normalise_file_path keeps
-- FILES paths inside a run's working directory.

-- The value keeps its SQL type, so a declared parameter can be checked against it.
CREATE OR REPLACE FUNCTION procgate.arg(name text, "position" int, value anyelement) RETURNS procgate.arg_value
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$ SELECT ROW($1, $2, pg_catalog.to_jsonb($3), pg_catalog.pg_typeof($3))::procgate.arg_value $fn$;

-- An untyped literal, NULL or $n would leave anyelement undecided; they arrive as text.
CREATE OR REPLACE FUNCTION procgate.arg(name text, "position" int, value text) RETURNS procgate.arg_value
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$ SELECT ROW($1, $2, pg_catalog.to_jsonb($3), 'text'::regtype)::procgate.arg_value $fn$;

CREATE OR REPLACE FUNCTION procgate.table_arg(
  name text, "position" int, query text, placeholders jsonb, partition_by text[]
) RETURNS procgate.table_value
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$ SELECT ROW($1, $2, $3, $4, $5)::procgate.table_value $fn$;

CREATE OR REPLACE FUNCTION procgate.file(path text, content text) RETURNS procgate.file_value
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$ SELECT ROW($1, pg_catalog.convert_to($2, 'UTF8'))::procgate.file_value $fn$;

CREATE OR REPLACE FUNCTION procgate.file(path text, content bytea) RETURNS procgate.file_value
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$ SELECT ROW($1, $2)::procgate.file_value $fn$;

CREATE OR REPLACE FUNCTION procgate.param(
  name text, type regtype, is_table boolean, has_default boolean, default_value jsonb
) RETURNS procgate.param_def
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$ SELECT ROW($1, $2, $3, $4, $5)::procgate.param_def $fn$;

CREATE OR REPLACE FUNCTION procgate.column(name text, type regtype) RETURNS procgate.column_def
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$ SELECT ROW($1, $2)::procgate.column_def $fn$;

-- source NULL: value is plain JSON (a parameter's DEFAULT) decoded into target.
-- Otherwise value is to_jsonb of a source-typed value, cast via its text form
-- as if the user had written it as a literal of the target type.
CREATE OR REPLACE FUNCTION procgate_internal.cast_to(value jsonb, source regtype, target regtype, what text)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  text_form text;
  result jsonb;
BEGIN
  IF value IS NULL OR jsonb_typeof(value) = 'null' THEN
    RETURN jsonb_build_object('value', NULL, 'type', target::text);
  END IF;
  IF source = target THEN
    RETURN jsonb_build_object('value', value, 'type', target::text);
  END IF;
  BEGIN
    IF source IS NULL THEN
      EXECUTE format('SELECT to_jsonb(x.v) FROM jsonb_to_record($1) AS x (v %s)', target)
        INTO result USING jsonb_build_object('v', value);
    ELSE
      IF source IN ('json'::regtype, 'jsonb'::regtype) THEN
        text_form := value::text;
      ELSIF jsonb_typeof(value) IN ('array', 'object') THEN
        -- Arrays and composites: PostgreSQL's text form, not JSON's.
        EXECUTE format('SELECT x.v::text FROM jsonb_to_record($1) AS x (v %s)', source)
          INTO text_form USING jsonb_build_object('v', value);
      ELSE
        text_form := value #>> '{}';
      END IF;
      EXECUTE format('SELECT to_jsonb(%L::%s)', text_form, target) INTO result;
    END IF;
  EXCEPTION WHEN OTHERS THEN
    RAISE EXCEPTION 'invalid value for %: %', what, SQLERRM
      USING ERRCODE = 'invalid_parameter_value';
  END;
  RETURN jsonb_build_object('value', result, 'type', target::text);
END
$fn$;

-- Options have built-in types, so they are checked with static casts in
-- the owner-rights functions: no user code can run there.
CREATE OR REPLACE FUNCTION procgate_internal.option_integer(opt procgate.arg_value, minimum int) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  n int;
BEGIN
  BEGIN
    n := (opt.value #>> '{}')::int;
  EXCEPTION WHEN OTHERS THEN
    n := NULL;
  END;
  IF n IS NULL OR n < minimum THEN
    RAISE EXCEPTION 'invalid value for option "%": must be a % integer', opt.name,
      CASE WHEN minimum > 0 THEN 'positive' ELSE 'non-negative' END
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN jsonb_build_object('value', n, 'type', 'integer');
END
$fn$;

CREATE OR REPLACE FUNCTION procgate_internal.option_boolean(opt procgate.arg_value) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  b boolean;
BEGIN
  BEGIN
    b := (opt.value #>> '{}')::boolean;
  EXCEPTION WHEN OTHERS THEN
    b := NULL;
  END;
  IF b IS NULL THEN
    RAISE EXCEPTION 'invalid value for option "%": must be a boolean', opt.name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN jsonb_build_object('value', b, 'type', 'boolean');
END
$fn$;

CREATE OR REPLACE FUNCTION procgate_internal.option_text(opt procgate.arg_value) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF opt.value IS NULL OR jsonb_typeof(opt.value) IN ('null', 'array', 'object') THEN
    RAISE EXCEPTION 'invalid value for option "%": must be a text', opt.name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN jsonb_build_object('value', opt.value #>> '{}', 'type', 'text');
END
$fn$;

-- An interval, or a number of seconds.
CREATE OR REPLACE FUNCTION procgate_internal.option_interval(opt procgate.arg_value) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  i interval;
BEGIN
  BEGIN
    IF jsonb_typeof(opt.value) = 'number' THEN
      i := make_interval(secs => (opt.value #>> '{}')::double precision);
    ELSE
      i := (opt.value #>> '{}')::interval;
    END IF;
  EXCEPTION WHEN OTHERS THEN
    i := NULL;
  END;
  IF i IS NULL OR i <= interval '0' THEN
    RAISE EXCEPTION 'invalid value for option "%": must be a positive interval or number of seconds', opt.name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN jsonb_build_object('value', to_jsonb(i), 'type', 'interval');
END
$fn$;

-- Options must be named and given once.
CREATE OR REPLACE FUNCTION procgate_internal.check_option_names(options procgate.arg_value[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  seen text[] := '{}';
  opt procgate.arg_value;
BEGIN
  FOREACH opt IN ARRAY coalesce(options, '{}') LOOP
    IF opt.name IS NULL OR opt.name = '' THEN
      RAISE EXCEPTION 'options must be named' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF opt.name = ANY (seen) THEN
      RAISE EXCEPTION 'option "%" is given more than once', opt.name USING ERRCODE = 'invalid_parameter_value';
    END IF;
    seen := seen || opt.name;
  END LOOP;
END
$fn$;

CREATE OR REPLACE FUNCTION procgate_internal.normalise_file_path(path text) RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  parts text[] := '{}';
  part text;
  problem text;
BEGIN
  IF path IS NULL OR path = '' THEN
    problem := 'the path is empty';
  ELSIF strpos(path, chr(92)) > 0 THEN
    problem := 'backslashes are not allowed';
  ELSIF path ~ '[[:cntrl:]]' THEN
    problem := 'control characters are not allowed';
  ELSIF left(path, 1) = '/' THEN
    problem := 'absolute paths are not allowed';
  ELSE
    FOREACH part IN ARRAY string_to_array(path, '/') LOOP
      CONTINUE WHEN part IN ('', '.');
      IF part = '..' THEN
        IF cardinality(parts) = 0 THEN
          problem := 'the path leads outside the procedure''s directory';
          EXIT;
        END IF;
        parts := parts[1:cardinality(parts) - 1];
      ELSE
        parts := parts || part;
      END IF;
    END LOOP;
    IF problem IS NULL AND cardinality(parts) = 0 THEN
      problem := 'the path names no file';
    END IF;
  END IF;
  IF problem IS NOT NULL THEN
    RAISE EXCEPTION 'invalid file path "%": %', coalesce(path, ''), problem
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN array_to_string(parts, '/');
END
$fn$;
