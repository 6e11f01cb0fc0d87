-- What a built-in type's parameters say of their values beyond their kind,
-- checked at EXECUTE so that a run that cannot succeed is never queued. Each
-- parameter of procgate_internal.procedure_types.parameters may carry:
--
--   "allowed": ["a", "b"]          a text value must be one of these (22023)
--   "at_least", "greater_than",    a number's bounds (22023)
--   "less_than": n
--   "pattern": "^...$"             a text value must match it, said in
--   "pattern_says": "..."          words by pattern_says (22023)
--   "model": {"types": [...],      must name a model of procgate.models the
--             "sql_function": b}   caller sees (42704), of one of the types
--                                  (42809), with a SQL function if b (22023)
--   "column_of": "input"           the value (each one of a text[]) must be
--                                  a column of that TABLE input (42703)
--   "numeric": true                ... and a numeric one (42804)
--   "model_default": "param"       when not given, the label column of the
--                                  model named by that parameter
--   "features": {"numeric": b,     on a TABLE parameter: its feature columns
--     "except": [params],          are every column but those the params
--     "named_by": "param",         name, or those the param names, or the
--     "of_model": "param"}         model's features (42703 if one is missing);
--                                  all numeric if b (42804, naming them all)
--
-- The values are checked by the owner's functions (they read the catalog and
-- procgate.models); the TABLE inputs' columns are described as the caller by
-- describe_inputs, which the SECURITY INVOKER wrapper procgate.execute calls.

-- PostgreSQL's numeric types, as the learners read features (src/builtins/learners/staged-rows.ts).
CREATE OR REPLACE FUNCTION procgate_internal.is_numeric_type(type_oid oid) RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$ SELECT $1 IN (20, 21, 23, 700, 701, 1700) $fn$;

-- The TABLE inputs whose columns the procedure's type checks: [{"name", "query", "placeholders"}].
CREATE OR REPLACE FUNCTION procgate_internal.api_plan_inputs(
  caller name, p_name text, p_tables procgate.table_value[]
) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  proc procgate_internal.procedures;
  declared jsonb;
BEGIN
  PERFORM procgate_internal.check_caller(caller);
  proc := procgate_internal.find_procedure(p_name);
  PERFORM procgate_internal.check_may_execute(caller, proc);
  IF proc.language <> 'type' OR p_tables IS NULL THEN
    RETURN '[]';
  END IF;
  SELECT t.parameters INTO declared FROM procgate_internal.procedure_types t WHERE t.name = proc.type_name;
  RETURN coalesce((
    SELECT jsonb_agg(jsonb_build_object('name', i ->> 'name', 'query', i -> 'query', 'placeholders', i -> 'placeholders'))
      FROM jsonb_array_elements(procgate_internal.resolve_tables(proc, p_tables)) i
     WHERE EXISTS (SELECT FROM jsonb_array_elements(declared) p
                    WHERE (p ->> 'name' = i ->> 'name' AND p ? 'features') OR p ->> 'column_of' = i ->> 'name')),
    '[]');
END
$fn$;

-- The columns of TABLE inputs, {"input": [{"name", "type", "oid"}]}, as the
-- caller sees them: their queries are prepared in the caller's session, with
-- the caller's rights and search_path (hence no SET search_path here), and run
-- with LIMIT 0. A `$n` in a query keeps the type its value had; a query with
-- an untyped one (CALL's, which the engine writes in as a literal) is not
-- described, and the run checks its columns when it starts.
CREATE OR REPLACE FUNCTION procgate_internal.describe_inputs(inputs jsonb) RETURNS jsonb
LANGUAGE plpgsql
AS $fn$
DECLARE
  input jsonb;
  prepared text := 'procgate_describe_input';
  declared text;
  nulls text;
  probe text;
  names text[];
  oids oid[];
  described jsonb := '{}';
BEGIN
  FOR input IN SELECT i FROM pg_catalog.jsonb_array_elements(coalesce(inputs, '[]')) i LOOP
    CONTINUE WHEN EXISTS (SELECT FROM pg_catalog.jsonb_each(coalesce(input -> 'placeholders', '{}')) p
                           WHERE p.value ->> 'type' = 'unknown');
    SELECT pg_catalog.string_agg(coalesce(input -> 'placeholders' -> n::text ->> 'type', 'text'), ', ' ORDER BY n),
           pg_catalog.string_agg('NULL', ', ')
      INTO declared, nulls
      FROM pg_catalog.generate_series(1, (SELECT pg_catalog.max(k::int)
                                            FROM pg_catalog.jsonb_object_keys(coalesce(input -> 'placeholders', '{}')) k)) n;
    declared := CASE WHEN declared IS NULL THEN '' ELSE '(' || declared || ')' END;
    nulls := CASE WHEN nulls IS NULL THEN '' ELSE '(' || nulls || ')' END;
    -- One row of NULLs whose columns are the query's: their names (in order) and types.
    probe := pg_catalog.format(
      'SELECT q.* FROM (VALUES (1)) AS procgate_one (x) LEFT JOIN (SELECT * FROM (%s) AS procgate_input LIMIT 0) AS q ON true',
      input ->> 'query');
    -- A prepared statement outlives an error (it is not transactional): clear one left behind.
    IF EXISTS (SELECT FROM pg_catalog.pg_prepared_statements s WHERE s.name = prepared) THEN
      EXECUTE pg_catalog.format('DEALLOCATE %I', prepared);
    END IF;
    EXECUTE pg_catalog.format(
      'PREPARE %I%s AS SELECT pg_catalog.array_agg(k.k ORDER BY k.n) FROM (SELECT pg_catalog.to_json(s) AS j FROM (%s) AS s) AS r, '
      'pg_catalog.json_object_keys(r.j) WITH ORDINALITY AS k (k, n)', prepared, declared, probe);
    EXECUTE pg_catalog.format('EXECUTE %I%s', prepared, nulls) INTO names;
    EXECUTE pg_catalog.format('DEALLOCATE %I', prepared);
    names := coalesce(names, '{}');
    EXECUTE pg_catalog.format(
      'PREPARE %I%s AS SELECT ARRAY[%s]::pg_catalog.oid[] FROM (%s) AS s', prepared, declared,
      (SELECT pg_catalog.string_agg(pg_catalog.format('pg_catalog.pg_typeof(s.%I)::pg_catalog.oid', c), ', ') FROM pg_catalog.unnest(names) c),
      probe);
    EXECUTE pg_catalog.format('EXECUTE %I%s', prepared, nulls) INTO oids;
    EXECUTE pg_catalog.format('DEALLOCATE %I', prepared);
    described := described || pg_catalog.jsonb_build_object(input ->> 'name', coalesce((
      SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'name', c.name, 'type', pg_catalog.format_type(c.oid, NULL), 'oid', c.oid) ORDER BY c.n)
        FROM ROWS FROM (pg_catalog.unnest(names), pg_catalog.unnest(oids)) WITH ORDINALITY AS c (name, oid, n)), '[]'));
  END LOOP;
  RETURN described;
END
$fn$;

-- A parameter's value for the checks: the argument's, else the type's default; NULL when there is none.
CREATE OR REPLACE FUNCTION procgate_internal.type_argument_value(params jsonb, declared jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT nullif(coalesce($1 -> ($2 ->> 'name') -> 'value', $2 -> 'default'), 'null'::jsonb)
$fn$;

-- The type's parameter `param_name`, or NULL.
CREATE OR REPLACE FUNCTION procgate_internal.type_parameter(declared jsonb, param_name text) RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$ SELECT p FROM jsonb_array_elements($1) p WHERE p ->> 'name' = $2 LIMIT 1 $fn$;

-- "allowed", "pattern" and a number's bounds: what a value alone shows.
-- Values of the wrong kind are left to check_type_invocation.
CREATE OR REPLACE FUNCTION procgate_internal.check_type_values(proc procgate_internal.procedures, declared jsonb, params jsonb)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  p jsonb;
  value text;
  number numeric;
BEGIN
  FOR p IN SELECT d FROM jsonb_array_elements(declared) d WHERE d ?| ARRAY['at_least', 'greater_than', 'less_than'] LOOP
    CONTINUE WHEN jsonb_typeof(procgate_internal.type_argument_value(params, p)) IS DISTINCT FROM 'number';
    number := (procgate_internal.type_argument_value(params, p) #>> '{}')::numeric;
    IF number < (p ->> 'at_least')::numeric OR number <= (p ->> 'greater_than')::numeric
       OR number >= (p ->> 'less_than')::numeric THEN
      RAISE EXCEPTION 'invalid value % for parameter "%" of type "%"', number, p ->> 'name', proc.type_name
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = format('It must be %s.', concat_ws(' and ',
                'at least ' || (p ->> 'at_least'), 'greater than ' || (p ->> 'greater_than'),
                'less than ' || (p ->> 'less_than')));
    END IF;
  END LOOP;
  FOR p IN SELECT d FROM jsonb_array_elements(declared) d WHERE d ? 'allowed' OR d ? 'pattern' LOOP
    CONTINUE WHEN jsonb_typeof(procgate_internal.type_argument_value(params, p)) IS DISTINCT FROM 'string';
    value := procgate_internal.type_argument_value(params, p) #>> '{}';
    IF p ? 'allowed' AND NOT (p -> 'allowed') ? value THEN
      RAISE EXCEPTION 'invalid value "%" for parameter "%" of type "%"', value, p ->> 'name', proc.type_name
        USING ERRCODE = 'invalid_parameter_value',
              HINT = format('Its values: %s.', (SELECT string_agg(a, ', ') FROM jsonb_array_elements_text(p -> 'allowed') a));
    END IF;
    IF p ? 'pattern' AND value !~ (p ->> 'pattern') THEN
      RAISE EXCEPTION 'invalid value "%" for parameter "%" of type "%"', value, p ->> 'name', proc.type_name
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = format('It must be %s.', coalesce(p ->> 'pattern_says', 'matching ' || (p ->> 'pattern')));
    END IF;
  END LOOP;
END
$fn$;

-- "model": the model a parameter names, as the caller may see it (its owner,
-- or procgate_admin); someone else's is as unknown as a missing one.
-- Returns {"param": model row} for the checks of columns.
CREATE OR REPLACE FUNCTION procgate_internal.check_type_models(
  proc procgate_internal.procedures, caller name, declared jsonb, params jsonb
) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  p jsonb;
  value text;
  model procgate_internal.models;
  found_models jsonb := '{}';
BEGIN
  FOR p IN SELECT d FROM jsonb_array_elements(declared) d WHERE d ? 'model' LOOP
    CONTINUE WHEN jsonb_typeof(procgate_internal.type_argument_value(params, p)) IS DISTINCT FROM 'string';
    value := procgate_internal.type_argument_value(params, p) #>> '{}';
    SELECT m.* INTO model FROM procgate_internal.models m
     WHERE m.name = value AND (m.owner = caller OR procgate_internal.is_admin(caller));
    IF NOT FOUND THEN
      RAISE EXCEPTION 'model "%" does not exist', value
        USING ERRCODE = 'undefined_object',
              DETAIL = format('Parameter "%s" of type "%s" names no model of procgate.models that you can see.',
                              p ->> 'name', proc.type_name);
    END IF;
    IF jsonb_array_length(coalesce(p -> 'model' -> 'types', '[]')) > 0 AND NOT (p -> 'model' -> 'types') ? model.type THEN
      RAISE EXCEPTION 'model "%" is a % model, not a %', value, model.type,
        (SELECT string_agg(t, ' or ') FROM jsonb_array_elements_text(p -> 'model' -> 'types') t)
        USING ERRCODE = 'wrong_object_type',
              DETAIL = format('Parameter "%s" of type "%s".', p ->> 'name', proc.type_name);
    END IF;
    IF coalesce((p -> 'model' ->> 'sql_function')::boolean, false) AND model.sql_function IS NULL THEN
      RAISE EXCEPTION 'model "%" has no SQL function to score with', value
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = format('Parameter "%s" of type "%s"; model "%s" is a %s.', p ->> 'name', proc.type_name,
                              value, model.algorithm);
    END IF;
    found_models := found_models || jsonb_build_object(p ->> 'name', to_jsonb(model) - 'model');
  END LOOP;
  RETURN found_models;
END
$fn$;

-- Columns some of `wanted` that `columns` (of describe_inputs) lacks: 42703 naming them all.
CREATE OR REPLACE FUNCTION procgate_internal.check_columns_exist(
  type_name text, input text, columns jsonb, wanted text[], what text
) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  missing text[];
BEGIN
  SELECT array_agg(w ORDER BY n) INTO missing FROM unnest(wanted) WITH ORDINALITY AS u (w, n)
   WHERE NOT EXISTS (SELECT FROM jsonb_array_elements(columns) c WHERE c ->> 'name' = w);
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'TABLE argument "%" of type "%" has no column %', input, type_name,
      (SELECT string_agg(format('"%s"', m), ', ') FROM unnest(missing) m)
      USING ERRCODE = 'undefined_column',
            DETAIL = format('%s. Its columns: %s.', what,
                            coalesce((SELECT string_agg(c ->> 'name', ', ') FROM jsonb_array_elements(columns) c), 'none')),
            HINT = 'The TABLE query must return the columns by these names.';
  END IF;
END
$fn$;

-- Columns of `wanted` that are not numeric: 42804 naming them all.
CREATE OR REPLACE FUNCTION procgate_internal.check_columns_numeric(
  type_name text, input text, columns jsonb, wanted text[], what text
) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  bad text;
BEGIN
  SELECT string_agg(format('"%s" (%s)', c ->> 'name', c ->> 'type'), ', ' ORDER BY u.n) INTO bad
    FROM unnest(wanted) WITH ORDINALITY AS u (w, n)
    JOIN LATERAL (SELECT c FROM jsonb_array_elements(columns) c WHERE c ->> 'name' = u.w LIMIT 1) AS x ON true
   WHERE NOT procgate_internal.is_numeric_type((x.c ->> 'oid')::oid);
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION '% of TABLE argument "%" of type "%" must be numeric: %', what, input, type_name, bad
      USING ERRCODE = 'datatype_mismatch',
            HINT = 'Cast or encode them in the TABLE query, or leave them out of it.';
  END IF;
END
$fn$;

-- Everything the type's parameters say that can be known at EXECUTE: values,
-- models, and, with `described` (describe_inputs, as the caller), columns.
CREATE OR REPLACE FUNCTION procgate_internal.check_type_inputs(
  proc procgate_internal.procedures, caller name, params jsonb, inputs jsonb, described jsonb
) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  declared jsonb;
  models jsonb;
  p jsonb;
  value jsonb;
  columns jsonb;
  features jsonb;
  wanted text[];
BEGIN
  IF proc.language <> 'type' THEN
    RETURN;
  END IF;
  SELECT t.parameters INTO declared FROM procgate_internal.procedure_types t WHERE t.name = proc.type_name;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  PERFORM procgate_internal.check_type_invocation(proc, params, inputs);
  PERFORM procgate_internal.check_type_values(proc, declared, params);
  models := procgate_internal.check_type_models(proc, caller, declared, params);
  -- Scalar parameters that name columns: the label, k-means' features.
  FOR p IN SELECT d FROM jsonb_array_elements(declared) d WHERE d ? 'column_of' LOOP
    columns := described -> (p ->> 'column_of');
    CONTINUE WHEN columns IS NULL;
    value := procgate_internal.type_argument_value(params, p);
    IF value IS NULL AND p ? 'model_default' THEN
      value := models -> (p ->> 'model_default') -> 'label_column';
    END IF;
    wanted := CASE jsonb_typeof(value)
      WHEN 'string' THEN ARRAY[value #>> '{}']
      WHEN 'array' THEN ARRAY(SELECT jsonb_array_elements_text(value))
    END;
    CONTINUE WHEN wanted IS NULL;
    PERFORM procgate_internal.check_columns_exist(proc.type_name, p ->> 'column_of', columns, wanted,
      format('Parameter "%s" names %s', p ->> 'name', CASE WHEN cardinality(wanted) = 1 THEN 'it' ELSE 'them' END));
    IF coalesce((p ->> 'numeric')::boolean, false) THEN
      PERFORM procgate_internal.check_columns_numeric(proc.type_name, p ->> 'column_of', columns, wanted,
        format('column named by "%s"', p ->> 'name'));
    END IF;
  END LOOP;
  -- TABLE parameters' feature columns.
  FOR p IN SELECT d FROM jsonb_array_elements(declared) d WHERE d ? 'features' LOOP
    columns := described -> (p ->> 'name');
    CONTINUE WHEN columns IS NULL;
    features := p -> 'features';
    IF features ? 'of_model' THEN
      CONTINUE WHEN NOT models ? (features ->> 'of_model');
      wanted := ARRAY(SELECT jsonb_array_elements_text(models -> (features ->> 'of_model') -> 'feature_names'));
      PERFORM procgate_internal.check_columns_exist(proc.type_name, p ->> 'name', columns, wanted,
        format('Model "%s" takes the features %s', models -> (features ->> 'of_model') ->> 'name',
               (SELECT string_agg(w, ', ') FROM unnest(wanted) w)));
    ELSIF features ? 'named_by'
          AND jsonb_typeof(procgate_internal.type_argument_value(params, procgate_internal.type_parameter(declared, features ->> 'named_by'))) = 'array' THEN
      wanted := ARRAY(SELECT jsonb_array_elements_text(
        procgate_internal.type_argument_value(params, procgate_internal.type_parameter(declared, features ->> 'named_by'))));
    ELSE
      wanted := ARRAY(
        SELECT c ->> 'name' FROM jsonb_array_elements(columns) c
         WHERE NOT EXISTS (
           SELECT FROM jsonb_array_elements_text(coalesce(features -> 'except', '[]')) e
            WHERE c ->> 'name' = procgate_internal.type_argument_value(params, procgate_internal.type_parameter(declared, e)) #>> '{}'));
    END IF;
    IF coalesce((features ->> 'numeric')::boolean, false) THEN
      PERFORM procgate_internal.check_columns_numeric(proc.type_name, p ->> 'name', columns, wanted, 'feature columns');
    END IF;
  END LOOP;
END
$fn$;
