-- EXECUTE PROCEDURE's arguments: which parameter each is for, the TABLE
-- arguments as stored, the values to convert to declared types and the
-- parameters they make with the defaults, the run's options and its INTO
-- tables. api_execute (execute.sql) puts them together.

-- The parameter an argument is for: its name, or the declared parameter at its position.
CREATE OR REPLACE FUNCTION procgate_internal.argument_name(
  proc procgate_internal.procedures, arg_name text, arg_position int
) RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF (arg_name IS NULL) = (arg_position IS NULL) OR arg_name = '' THEN
    RAISE EXCEPTION 'an argument of procedure "%" needs either a name or a position', proc.name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF arg_name IS NOT NULL THEN
    RETURN arg_name;
  END IF;
  IF proc.parameters IS NULL THEN
    RAISE EXCEPTION 'positional argument % of procedure "%": positional arguments need a parameter list',
      arg_position, proc.name
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Name the argument (name => value), or create the procedure with a parameter list.';
  END IF;
  IF arg_position < 1 OR arg_position > jsonb_array_length(proc.parameters) THEN
    RAISE EXCEPTION 'positional argument % but procedure "%" declares % parameters',
      arg_position, proc.name, jsonb_array_length(proc.parameters)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN proc.parameters -> (arg_position - 1) ->> 'name';
END
$fn$;

CREATE OR REPLACE FUNCTION procgate_internal.declared_parameter(proc procgate_internal.procedures, param_name text)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  declared jsonb;
BEGIN
  SELECT d.value INTO declared FROM jsonb_array_elements(proc.parameters) d WHERE d.value ->> 'name' = param_name;
  IF declared IS NULL THEN
    RAISE EXCEPTION 'procedure "%" has no parameter "%"', proc.name, param_name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN declared;
END
$fn$;

-- TABLE arguments as stored: [{"name", "query", "placeholders", "partition_by"}].
-- A nondistributed run ignores them (as Kinetica does), so they are kept as given.
CREATE OR REPLACE FUNCTION procgate_internal.resolve_tables(
  proc procgate_internal.procedures, tables procgate.table_value[]
) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  t procgate.table_value;
  param_name text;
  seen text[] := '{}';
  resolved jsonb := '[]';
BEGIN
  FOREACH t IN ARRAY coalesce(tables, '{}') LOOP
    IF coalesce(t.query, '') = '' THEN
      RAISE EXCEPTION 'TABLE argument % of procedure "%" has no query', coalesce(t.name, t.position::text), proc.name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_typeof(t.placeholders) IS DISTINCT FROM 'object' AND t.placeholders IS NOT NULL THEN
      RAISE EXCEPTION 'placeholders of TABLE argument % of procedure "%" must be a JSON object',
        coalesce(t.name, t.position::text), proc.name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF proc.execution_mode = 'distributed' THEN
      param_name := procgate_internal.argument_name(proc, t.name, t.position);
      IF proc.parameters IS NOT NULL
         AND NOT (procgate_internal.declared_parameter(proc, param_name) ->> 'table')::boolean THEN
        RAISE EXCEPTION 'parameter "%" of procedure "%" is not a table parameter', param_name, proc.name
          USING ERRCODE = 'invalid_parameter_value';
      END IF;
      IF param_name = ANY (seen) THEN
        RAISE EXCEPTION 'parameter "%" of procedure "%" is given more than once', param_name, proc.name
          USING ERRCODE = 'invalid_parameter_value';
      END IF;
      seen := seen || param_name;
    ELSE
      param_name := coalesce(t.name, proc.parameters -> (t.position - 1) ->> 'name');
    END IF;
    resolved := resolved || jsonb_build_array(jsonb_build_object(
      'name', param_name,
      'query', t.query,
      'placeholders', coalesce(t.placeholders, '{}'),
      'partition_by', to_jsonb(coalesce(t.partition_by, '{}'))));
  END LOOP;
  RETURN resolved;
END
$fn$;

-- The scalar arguments to convert: each to its declared type, or, for a
-- free-form procedure, kept in its own type.
CREATE OR REPLACE FUNCTION procgate_internal.api_plan_args(
  caller name, p_name text, p_args procgate.arg_value[], p_tables procgate.table_value[]
) RETURNS TABLE (param text, value jsonb, source regtype, target regtype, what text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  proc procgate_internal.procedures;
  a procgate.arg_value;
  declared jsonb;
  param_name text;
  taken text[];
BEGIN
  PERFORM procgate_internal.check_caller(caller);
  proc := procgate_internal.find_procedure(p_name);
  PERFORM procgate_internal.check_may_execute(caller, proc);
  SELECT coalesce(array_agg(q.value ->> 'name'), '{}') INTO taken
    FROM jsonb_array_elements(procgate_internal.resolve_tables(proc, p_tables)) q
   WHERE q.value ->> 'name' IS NOT NULL;
  FOREACH a IN ARRAY coalesce(p_args, '{}') LOOP
    param_name := procgate_internal.argument_name(proc, a.name, a.position);
    declared := NULL;
    IF proc.parameters IS NOT NULL THEN
      declared := procgate_internal.declared_parameter(proc, param_name);
      IF (declared ->> 'table')::boolean THEN
        RAISE EXCEPTION 'parameter "%" of procedure "%" is a table parameter', param_name, proc.name
          USING ERRCODE = 'invalid_parameter_value',
                HINT = 'Pass a table as TABLE (name) or TABLE (SELECT ...).';
      END IF;
    END IF;
    IF param_name = ANY (taken) THEN
      RAISE EXCEPTION 'parameter "%" of procedure "%" is given more than once', param_name, proc.name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    taken := taken || param_name;
    param := param_name;
    value := a.value;
    source := a.type;
    target := coalesce((declared ->> 'type')::regtype, a.type, 'jsonb'::regtype);
    what := format('parameter "%s" of procedure "%s"', param_name, proc.name);
    RETURN NEXT;
  END LOOP;
END
$fn$;

-- The run's parameters: the converted arguments over the defaults. Every
-- declared parameter needs a value; TABLE parameters of a distributed run a table.
CREATE OR REPLACE FUNCTION procgate_internal.complete_params(
  proc procgate_internal.procedures, given jsonb, inputs jsonb
) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  declared jsonb;
  param_name text;
  params jsonb := '{}';
BEGIN
  given := coalesce(given, '{}');
  IF proc.parameters IS NULL THEN
    SELECT coalesce(jsonb_object_agg(o.key, o.value), '{}') INTO params
      FROM jsonb_each(proc.options) o
     WHERE o.key <> ALL (procgate_internal.procedure_option_keys());
    RETURN params || given;
  END IF;
  -- cast_to gave each argument its declared type; anything else did not come through it.
  FOR param_name IN SELECT jsonb_object_keys(given) LOOP
    declared := procgate_internal.declared_parameter(proc, param_name);
    IF (declared ->> 'table')::boolean OR declared ->> 'type' IS DISTINCT FROM given -> param_name ->> 'type' THEN
      RAISE EXCEPTION 'argument "%" does not match parameter "%" of procedure "%"', param_name, param_name, proc.name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END LOOP;
  FOR declared IN SELECT d.value FROM jsonb_array_elements(proc.parameters) d LOOP
    param_name := declared ->> 'name';
    IF (declared ->> 'table')::boolean THEN
      CONTINUE WHEN proc.execution_mode = 'nondistributed'
        OR EXISTS (SELECT FROM jsonb_array_elements(inputs) q WHERE q.value ->> 'name' = param_name);
    ELSIF given ? param_name THEN
      params := params || jsonb_build_object(param_name, given -> param_name);
      CONTINUE;
    ELSIF declared ? 'default' THEN
      params := params || jsonb_build_object(param_name,
        jsonb_build_object('value', declared -> 'default', 'type', declared -> 'type'));
      CONTINUE;
    END IF;
    RAISE EXCEPTION 'missing value for parameter "%" of procedure "%"', param_name, proc.name
      USING ERRCODE = 'invalid_parameter_value';
  END LOOP;
  RETURN params;
END
$fn$;

-- A run's options, typed, with max_output_lines defaulting to 100 as in Kinetica.
CREATE OR REPLACE FUNCTION procgate_internal.run_options(caller name, options procgate.arg_value[]) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  opt procgate.arg_value;
  typed jsonb;
  result jsonb := '{"max_output_lines": {"value": 100, "type": "integer"}}';
BEGIN
  PERFORM procgate_internal.check_option_names(options);
  FOREACH opt IN ARRAY coalesce(options, '{}') LOOP
    typed := CASE opt.name
      WHEN 'run_tag' THEN procgate_internal.option_text(opt)
      WHEN 'max_output_lines' THEN procgate_internal.option_integer(opt, 1)
      WHEN 'execute_at_startup' THEN procgate_internal.option_boolean(opt)
      WHEN 'execute_at_startup_as' THEN procgate_internal.option_text(opt)
      WHEN 'segments' THEN procgate_internal.option_integer(opt, 1)
      WHEN 'retries' THEN procgate_internal.option_integer(opt, 0)
      WHEN 'timeout' THEN procgate_internal.option_interval(opt)
    END;
    IF typed IS NULL THEN
      RAISE EXCEPTION 'unknown option "%" for EXECUTE PROCEDURE', opt.name
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Run options are run_tag, max_output_lines, execute_at_startup, execute_at_startup_as, segments, retries and timeout.';
    END IF;
    IF opt.name = 'execute_at_startup_as' THEN
      IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname = typed ->> 'value') THEN
        RAISE EXCEPTION 'invalid value for option "execute_at_startup_as": role "%" does not exist', typed ->> 'value'
          USING ERRCODE = 'invalid_parameter_value';
      END IF;
      -- The run will act as that role, so the caller must be able to.
      IF NOT procgate_internal.has_role(caller, typed ->> 'value', 'MEMBER') THEN
        RAISE EXCEPTION 'permission denied to execute as role "%"', typed ->> 'value'
          USING ERRCODE = 'insufficient_privilege';
      END IF;
    END IF;
    result := result || jsonb_build_object(opt.name, typed);
  END LOOP;
  RETURN result;
END
$fn$;

CREATE OR REPLACE FUNCTION procgate_internal.check_output_tables(proc procgate_internal.procedures, output_tables text[])
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF array_position(output_tables, NULL) IS NOT NULL OR '' = ANY (output_tables) THEN
    RAISE EXCEPTION 'INTO of procedure "%" names an empty table', proc.name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
END
$fn$;
