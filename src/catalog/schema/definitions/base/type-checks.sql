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
