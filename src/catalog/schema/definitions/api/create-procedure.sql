-- CREATE [OR REPLACE] PROCEDURE. The wrapper procgate.create_procedure asks
-- api_plan_defaults which values need converting to declared types, casts
-- them as the caller (cast_to), and hands the result to api_create_procedure,
-- which checks and stores everything else with the owner's rights.

-- WITH keys that configure the procedure rather than default a parameter.
CREATE OR REPLACE FUNCTION procgate_internal.procedure_option_keys() RETURNS text[]
LANGUAGE sql IMMUTABLE
AS $fn$ SELECT ARRAY['max_concurrency_per_node', 'set_environment', 'run_on_creation'] $fn$;

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

CREATE OR REPLACE FUNCTION procgate_internal.api_create_procedure(
  caller name, p_name text, p_or_replace boolean, p_language text, p_type_name text,
  p_command text, p_args text[], p_execution_mode text, p_parameters procgate.param_def[],
  p_defaults jsonb, p_files procgate.file_value[], p_returns procgate.column_def[],
  p_options procgate.arg_value[]
) RETURNS SETOF procgate.procedures
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  lang text := lower(p_language);
  mode text := lower(coalesce(p_execution_mode, 'distributed'));
  arg_list text[] := coalesce(p_args, '{}');
  native regprocedure;
  params jsonb;
  proc_options jsonb;
  columns jsonb;
  files procgate.file_value[];
  existing procgate_internal.procedures;
  proc_id bigint;
BEGIN
  PERFORM procgate_internal.check_caller(caller);
  IF p_name IS NULL OR p_name = '' THEN
    RAISE EXCEPTION 'a procedure needs a name' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- CALL and DROP PROCEDURE of this name would be ambiguous with PostgreSQL's own.
  SELECT p.oid::regprocedure INTO native
    FROM pg_catalog.pg_proc p
   WHERE p.proname = p_name AND p.prokind = 'p'
   ORDER BY p.oid
   LIMIT 1;
  IF native IS NOT NULL THEN
    RAISE EXCEPTION 'procedure "%" clashes with the PostgreSQL procedure %', p_name, native
      USING ERRCODE = 'duplicate_function',
            HINT = 'CALL and DROP PROCEDURE of that name reach PostgreSQL''s procedure; choose another name.';
  END IF;
  PERFORM procgate_internal.check_kind(caller, p_name, lang, p_type_name, p_command, arg_list);
  IF mode NOT IN ('distributed', 'nondistributed') THEN
    RAISE EXCEPTION 'invalid execution mode "%" for procedure "%": must be distributed or nondistributed',
      mode, p_name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  params := procgate_internal.parameter_list(p_name, p_parameters, p_defaults);
  proc_options := procgate_internal.procedure_options(p_name, p_parameters IS NULL, p_options, p_defaults);
  PERFORM procgate_internal.check_set_environment(proc_options -> 'set_environment' ->> 'value');
  IF lang = 'type' THEN
    PERFORM procgate_internal.check_type_definition(p_type_name, p_parameters IS NULL, proc_options);
  END IF;
  columns := procgate_internal.return_columns(p_name, p_returns);
  files := procgate_internal.check_files(p_name, p_files);

  SELECT * INTO existing FROM procgate_internal.procedures p WHERE p.name = p_name FOR UPDATE;
  IF FOUND THEN
    IF NOT coalesce(p_or_replace, false) THEN
      RAISE EXCEPTION 'procedure "%" already exists', p_name
        USING ERRCODE = 'duplicate_function', HINT = 'Use CREATE OR REPLACE PROCEDURE to replace it.';
    END IF;
    -- As for PostgreSQL's functions, replacing keeps the owner, grants and creation time.
    PERFORM procgate_internal.check_may_manage(caller, existing);
    UPDATE procgate_internal.procedures p
       SET language = lang, type_name = p_type_name, command = p_command, args = arg_list,
           execution_mode = mode, parameters = params, returns = columns, options = proc_options
     WHERE p.id = existing.id;
    DELETE FROM procgate_internal.procedure_files f WHERE f.procedure_id = existing.id;
    proc_id := existing.id;
  ELSE
    INSERT INTO procgate_internal.procedures AS p
           (name, language, type_name, command, args, execution_mode, parameters, returns, options, owner)
    VALUES (p_name, lang, p_type_name, p_command, arg_list, mode, params, columns, proc_options, caller)
    ON CONFLICT (name) DO NOTHING
    RETURNING p.id INTO proc_id;
    IF proc_id IS NULL THEN
      RAISE EXCEPTION 'procedure "%" already exists', p_name USING ERRCODE = 'duplicate_function';
    END IF;
  END IF;
  INSERT INTO procgate_internal.procedure_files (procedure_id, path, content)
  SELECT proc_id, f.path, f.content FROM unnest(files) f;
  PERFORM pg_notify('procgate_catalog', p_name);

  IF coalesce((proc_options -> 'run_on_creation' ->> 'value')::boolean, false) THEN
    PERFORM procgate_internal.start_run(
      procgate_internal.find_procedure(p_name), caller, '{}', '{}', '{}', procgate_internal.run_options(caller, '{}'));
  END IF;
  RETURN QUERY SELECT * FROM procgate.procedures v WHERE v.name = p_name;
END
$fn$;

CREATE OR REPLACE FUNCTION procgate.create_procedure(
  name text, or_replace boolean DEFAULT false, language text DEFAULT NULL, type_name text DEFAULT NULL,
  command text DEFAULT NULL, args text[] DEFAULT NULL, execution_mode text DEFAULT NULL,
  parameters procgate.param_def[] DEFAULT NULL, files procgate.file_value[] DEFAULT NULL,
  returns procgate.column_def[] DEFAULT NULL, options procgate.arg_value[] DEFAULT NULL
) RETURNS SETOF procgate.procedures
LANGUAGE sql
BEGIN ATOMIC
  SELECT c.*
    FROM procgate_internal.api_create_procedure(
      current_user, create_procedure.name, create_procedure.or_replace, create_procedure.language,
      create_procedure.type_name, create_procedure.command, create_procedure.args,
      create_procedure.execution_mode, create_procedure.parameters,
      (SELECT coalesce(pg_catalog.jsonb_object_agg(
                d.param, procgate_internal.cast_to(d.value, d.source, d.target, d.what)), '{}'::jsonb)
         FROM procgate_internal.api_plan_defaults(
           create_procedure.name, create_procedure.parameters, create_procedure.options) d),
      create_procedure.files, create_procedure.returns, create_procedure.options) c;
END;

COMMENT ON FUNCTION procgate.create_procedure(text, boolean, text, text, text, text[], text,
  procgate.param_def[], procgate.file_value[], procgate.column_def[], procgate.arg_value[])
  IS 'CREATE [OR REPLACE] PROCEDURE';
