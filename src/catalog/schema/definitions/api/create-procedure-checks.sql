-- CREATE PROCEDURE's parts, each checked and put in its stored form: the
-- parameter list and its defaults, the procedure options, RETURNS TABLE, the
-- FILES and what runs (command, javascript or TYPE). api_create_procedure
-- (create-procedure.sql) stores the result.

-- WITH keys that configure the procedure rather than default a parameter.
CREATE OR REPLACE FUNCTION procgate_internal.procedure_option_keys() RETURNS text[]
LANGUAGE sql IMMUTABLE
AS $fn$ SELECT ARRAY['max_concurrency_per_node', 'set_environment', 'run_on_creation', 'data_format'] $fn$;

CREATE OR REPLACE FUNCTION procgate_internal.check_parameters(proc_name text, params procgate.param_def[])
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  def procgate.param_def;
  seen text[] := '{}';
  ord int := 0;
BEGIN
  FOREACH def IN ARRAY params LOOP
    ord := ord + 1;
    IF def.name IS NULL OR def.name = '' THEN
      RAISE EXCEPTION 'parameter % of procedure "%" has no name', ord, proc_name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF def.name = ANY (seen) THEN
      RAISE EXCEPTION 'parameter "%" of procedure "%" is declared more than once', def.name, proc_name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF def.name = ANY (procgate_internal.procedure_option_keys()) THEN
      RAISE EXCEPTION 'parameter "%" of procedure "%" has the name of a procedure option', def.name, proc_name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF coalesce(def.is_table, false) THEN
      IF coalesce(def.has_default, false) THEN
        RAISE EXCEPTION 'table parameter "%" of procedure "%" cannot have a default', def.name, proc_name
          USING ERRCODE = 'invalid_parameter_value';
      END IF;
    ELSIF def.type IS NULL THEN
      RAISE EXCEPTION 'parameter "%" of procedure "%" has no type', def.name, proc_name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    seen := seen || def.name;
  END LOOP;
END
$fn$;

-- The values to convert to declared types: DEFAULTs (plain JSON) and WITH
-- values naming a declared parameter (which override the DEFAULT).
CREATE OR REPLACE FUNCTION procgate_internal.api_plan_defaults(
  proc_name text, params procgate.param_def[], options procgate.arg_value[]
) RETURNS TABLE (param text, value jsonb, source regtype, target regtype, what text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  def procgate.param_def;
  opt procgate.arg_value;
  overridden text[] := '{}';
BEGIN
  IF params IS NULL THEN
    RETURN;
  END IF;
  PERFORM procgate_internal.check_parameters(proc_name, params);
  PERFORM procgate_internal.check_option_names(options);
  FOREACH opt IN ARRAY coalesce(options, '{}') LOOP
    CONTINUE WHEN opt.name = ANY (procgate_internal.procedure_option_keys());
    def := NULL;
    SELECT d.* INTO def FROM unnest(params) d WHERE d.name = opt.name;
    IF def.name IS NULL THEN
      RAISE EXCEPTION 'procedure "%" has no parameter "%"', proc_name, opt.name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF coalesce(def.is_table, false) THEN
      RAISE EXCEPTION 'parameter "%" of procedure "%" is a table parameter', opt.name, proc_name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    overridden := overridden || opt.name;
    param := def.name;
    value := opt.value;
    source := opt.type;
    target := def.type;
    what := format('parameter "%s" of procedure "%s"', def.name, proc_name);
    RETURN NEXT;
  END LOOP;
  FOREACH def IN ARRAY params LOOP
    CONTINUE WHEN NOT coalesce(def.has_default, false) OR coalesce(def.is_table, false)
      OR def.name = ANY (overridden);
    param := def.name;
    value := def.default_value;
    source := NULL;
    target := def.type;
    what := format('the default of parameter "%s" of procedure "%s"', def.name, proc_name);
    RETURN NEXT;
  END LOOP;
END
$fn$;

-- The declared parameter list as stored: [{"name", "type", "table", "default"?}].
-- defaults holds the converted DEFAULT and WITH values, {"name": {"value", "type"}}.
CREATE OR REPLACE FUNCTION procgate_internal.parameter_list(
  proc_name text, params procgate.param_def[], defaults jsonb
) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  listed jsonb;
BEGIN
  IF params IS NULL THEN
    IF coalesce(defaults, '{}') <> '{}' THEN
      RAISE EXCEPTION 'procedure "%" has no parameter list for defaults', proc_name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN NULL;
  END IF;
  PERFORM procgate_internal.check_parameters(proc_name, params);
  -- Defaults arrive through cast_to; each must fit a declared scalar parameter.
  IF EXISTS (
    SELECT FROM jsonb_each(coalesce(defaults, '{}')) d
     WHERE NOT EXISTS (
       SELECT FROM unnest(params) p
        WHERE p.name = d.key AND NOT coalesce(p.is_table, false) AND p.type::text = d.value ->> 'type'))
  THEN
    RAISE EXCEPTION 'defaults do not match the parameters of procedure "%"', proc_name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT jsonb_agg(
           jsonb_build_object(
             'name', p.name,
             'type', CASE WHEN coalesce(p.is_table, false) THEN NULL ELSE p.type::text END,
             'table', coalesce(p.is_table, false))
           || CASE WHEN defaults ? p.name
                   THEN jsonb_build_object('default', defaults -> p.name -> 'value')
                   ELSE '{}' END
           ORDER BY p.ord)
    INTO listed
    FROM unnest(params) WITH ORDINALITY p (name, type, is_table, has_default, default_value, ord);
  RETURN coalesce(listed, '[]');
END
$fn$;

-- Procedure options, typed; for a free-form procedure other keys are
-- parameter defaults kept with their own types.
CREATE OR REPLACE FUNCTION procgate_internal.procedure_options(
  proc_name text, free_form boolean, options procgate.arg_value[], defaults jsonb
) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  opt procgate.arg_value;
  typed jsonb;
  result jsonb := '{}';
BEGIN
  PERFORM procgate_internal.check_option_names(options);
  FOREACH opt IN ARRAY coalesce(options, '{}') LOOP
    typed := CASE opt.name
      WHEN 'max_concurrency_per_node' THEN procgate_internal.option_integer(opt, 0)
      WHEN 'set_environment' THEN procgate_internal.option_text(opt)
      WHEN 'run_on_creation' THEN procgate_internal.option_boolean(opt)
      WHEN 'data_format' THEN procgate_internal.option_data_format(opt)
    END;
    IF typed IS NULL AND free_form THEN
      typed := jsonb_build_object('value', coalesce(opt.value, 'null'), 'type', coalesce(opt.type::text, 'jsonb'));
    ELSIF typed IS NULL AND NOT coalesce(defaults ? opt.name, false) THEN
      RAISE EXCEPTION 'procedure "%" has no parameter "%"', proc_name, opt.name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF typed IS NOT NULL THEN
      result := result || jsonb_build_object(opt.name, typed);
    END IF;
  END LOOP;
  RETURN result;
END
$fn$;

CREATE OR REPLACE FUNCTION procgate_internal.return_columns(proc_name text, columns procgate.column_def[])
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  col procgate.column_def;
  seen text[] := '{}';
BEGIN
  IF columns IS NULL THEN
    RETURN NULL;
  END IF;
  FOREACH col IN ARRAY columns LOOP
    IF col.name IS NULL OR col.name = '' OR col.type IS NULL THEN
      RAISE EXCEPTION 'RETURNS TABLE of procedure "%" needs a name and a type for every column', proc_name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF col.name = ANY (seen) THEN
      RAISE EXCEPTION 'column "%" of RETURNS TABLE of procedure "%" is declared more than once', col.name, proc_name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    seen := seen || col.name;
  END LOOP;
  RETURN (SELECT jsonb_agg(jsonb_build_object('name', c.name, 'type', c.type::text) ORDER BY c.ord)
            FROM unnest(columns) WITH ORDINALITY c (name, type, ord));
END
$fn$;

-- FILES entries with normalised paths, each path once.
CREATE OR REPLACE FUNCTION procgate_internal.check_files(proc_name text, files procgate.file_value[])
RETURNS procgate.file_value[]
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  f procgate.file_value;
  normalised procgate.file_value[] := '{}';
  seen text[] := '{}';
  path text;
BEGIN
  FOREACH f IN ARRAY coalesce(files, '{}') LOOP
    path := procgate_internal.normalise_file_path(f.path);
    IF path = ANY (seen) THEN
      RAISE EXCEPTION 'file "%" of procedure "%" is given more than once', path, proc_name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF f.content IS NULL THEN
      RAISE EXCEPTION 'file "%" of procedure "%" has no content', path, proc_name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    seen := seen || path;
    normalised := normalised || ROW(path, f.content)::procgate.file_value;
  END LOOP;
  RETURN normalised;
END
$fn$;

-- What runs: LANGUAGE command COMMAND 'program' ARGS (...), LANGUAGE javascript, or TYPE 'name'.
CREATE OR REPLACE FUNCTION procgate_internal.check_kind(
  caller name, proc_name text, lang text, type_name text, command text, args text[]
) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF lang IS NULL OR lang NOT IN ('command', 'javascript', 'type') THEN
    RAISE EXCEPTION 'invalid language "%" for procedure "%": must be command, javascript or type',
      coalesce(lang, ''), proc_name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF lang IN ('command', 'javascript')
     AND NOT procgate_internal.has_role(caller, 'procgate_developer', 'MEMBER') THEN
    RAISE EXCEPTION 'permission denied to create procedure "%" of language %', proc_name, lang
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'Procedures of language command or javascript need membership in role procgate_developer.';
  END IF;
  -- Their code must not run with procgate's own rights unless the operator said developers may.
  IF lang IN ('command', 'javascript') AND NOT procgate_internal.is_superuser(caller)
     AND NOT procgate_internal.code_may_run() THEN
    RAISE EXCEPTION 'permission denied to create procedure "%" of language %: no engine isolates users'' code',
      proc_name, lang
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'No live engine runs programs as unprivileged users (procgate started as root) or trusts '
                   'developers (--trust-developers); until one does, only superusers create such procedures.';
  END IF;
  IF (lang = 'command') <> (coalesce(command, '') <> '') THEN
    RAISE EXCEPTION 'procedure "%": %', proc_name,
      CASE WHEN lang = 'command' THEN 'language command needs a COMMAND'
           ELSE 'COMMAND is only for language command' END
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF (lang = 'type') <> (coalesce(type_name, '') <> '') THEN
    RAISE EXCEPTION 'procedure "%": %', proc_name,
      CASE WHEN lang = 'type' THEN 'language type needs a TYPE' ELSE 'TYPE is only for language type' END
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF lang <> 'command' AND cardinality(args) > 0 THEN
    RAISE EXCEPTION 'procedure "%": ARGS are only for language command', proc_name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF array_position(args, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'procedure "%": ARGS must not contain NULL', proc_name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
END
$fn$;
