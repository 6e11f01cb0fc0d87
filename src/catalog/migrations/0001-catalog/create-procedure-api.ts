/** api_create_procedure: checks a CREATE PROCEDURE and stores it. Runs with the owner's rights. */
export const createProcedureApi = `
-- What runs: LANGUAGE command COMMAND 'program' ARGS (...), LANGUAGE javascript, or TYPE 'name'.
CREATE FUNCTION procgate_internal.check_kind(
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

CREATE FUNCTION procgate_internal.api_create_procedure(
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
`;
