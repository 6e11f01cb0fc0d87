/**
 * Typed values: parameters are stored as {"value": <jsonb>, "type": "<type>"}.
 *
 * cast_to converts a value to a declared parameter type. It is the one
 * function here that runs as the caller (SECURITY INVOKER): a declared type
 * may be a domain whose CHECK calls user code, which must never run with
 * the schema owner's rights. The procgate wrappers call it between the
 * owner-rights functions that plan and store.
 */
export const typedValues = `
-- source NULL: value is plain JSON (a parameter's DEFAULT) decoded into target.
-- Otherwise value is to_jsonb of a source-typed value, cast via its text form
-- as if the user had written it as a literal of the target type.
CREATE FUNCTION procgate_internal.cast_to(value jsonb, source regtype, target regtype, what text)
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
CREATE FUNCTION procgate_internal.option_integer(opt procgate.arg_value, minimum int) RETURNS jsonb
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

CREATE FUNCTION procgate_internal.option_boolean(opt procgate.arg_value) RETURNS jsonb
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

CREATE FUNCTION procgate_internal.option_text(opt procgate.arg_value) RETURNS jsonb
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
CREATE FUNCTION procgate_internal.option_interval(opt procgate.arg_value) RETURNS jsonb
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
CREATE FUNCTION procgate_internal.check_option_names(options procgate.arg_value[]) RETURNS void
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
`;
