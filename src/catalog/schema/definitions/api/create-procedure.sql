-- CREATE [OR REPLACE] PROCEDURE. The wrapper procgate.create_procedure asks
-- api_plan_defaults which values need converting to declared types, casts
-- them as the caller (cast_to), and hands the result to api_create_procedure,
-- which checks and stores everything else with the owner's rights.

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
  PERFORM procgate_internal.check_data_format(p_name, lang, proc_options -> 'data_format' ->> 'value');
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
