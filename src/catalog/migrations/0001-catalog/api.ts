/**
 * The procgate API functions, as docs/sql-api.md names them. They run as
 * the caller (SECURITY INVOKER) and pass its current_user to the
 * owner-rights functions of procgate_internal, so the recorded owner or
 * submitter is always the caller. Their bodies are SQL-standard (BEGIN
 * ATOMIC): names are resolved when the migration creates them, so callers
 * need no USAGE on procgate_internal, which stays closed to them.
 */
const convertedArgs = (fn: string): string => `
      (SELECT coalesce(pg_catalog.jsonb_object_agg(
                a.param, procgate_internal.cast_to(a.value, a.source, a.target, a.what)), '{}'::jsonb)
         FROM procgate_internal.api_plan_args(current_user, ${fn}.name, ${fn}.args, ${fn}.tables) a)`;

const executeLike = (fn: string, comment: string): string => `
CREATE FUNCTION procgate.${fn}(
  name text, args procgate.arg_value[] DEFAULT NULL, tables procgate.table_value[] DEFAULT NULL,
  "into" text[] DEFAULT NULL, options procgate.arg_value[] DEFAULT NULL
) RETURNS TABLE (run_id uuid, procedure text, state text, run_tag text, created_at timestamptz)
LANGUAGE sql
BEGIN ATOMIC
  SELECT e.run_id, e.procedure, e.state, e.run_tag, e.created_at
    FROM procgate_internal.api_execute(
      current_user, ${fn}.name, ${convertedArgs(fn)},
      ${fn}.tables, ${fn}."into", ${fn}.options) e;
END;
COMMENT ON FUNCTION procgate.${fn}(text, procgate.arg_value[], procgate.table_value[], text[], procgate.arg_value[])
  IS '${comment}';
`;

export const api = `
CREATE FUNCTION procgate.create_procedure(
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

${executeLike('execute', 'EXECUTE PROCEDURE: queues a run and returns it')}

CREATE FUNCTION procgate.kill_run(run_id uuid) RETURNS TABLE (run_id uuid, state text)
LANGUAGE sql
BEGIN ATOMIC
  SELECT k.run_id, k.state FROM procgate_internal.api_kill_run(current_user, $1) k;
END;
COMMENT ON FUNCTION procgate.kill_run(uuid) IS 'KILL RUN';

CREATE FUNCTION procgate.kill_runs(procedure text DEFAULT NULL, run_tag text DEFAULT NULL)
RETURNS TABLE (run_id uuid, state text)
LANGUAGE sql
BEGIN ATOMIC
  SELECT k.run_id, k.state FROM procgate_internal.api_kill_runs(current_user, $1, $2) k;
END;
COMMENT ON FUNCTION procgate.kill_runs(text, text) IS 'KILL RUNS [OF PROCEDURE name] [WITH (run_tag = ...)]';

CREATE FUNCTION procgate.drop_procedure(name text, if_exists boolean DEFAULT false)
RETURNS TABLE (procedure text, runs_killed int)
LANGUAGE sql
BEGIN ATOMIC
  SELECT d.procedure, d.runs_killed FROM procgate_internal.api_drop_procedure(current_user, $1, $2) d;
END;
COMMENT ON FUNCTION procgate.drop_procedure(text, boolean) IS 'DROP PROCEDURE [IF EXISTS]: kills its runs';

CREATE FUNCTION procgate.drop_startup_run(id bigint) RETURNS TABLE (id bigint, procedure text)
LANGUAGE sql
BEGIN ATOMIC
  SELECT d.id, d.procedure FROM procgate_internal.api_drop_startup_run(current_user, $1) d;
END;
COMMENT ON FUNCTION procgate.drop_startup_run(bigint)
  IS 'Removes a registration of EXECUTE PROCEDURE ... WITH (execute_at_startup = true) (procgate.startup_runs)';

CREATE FUNCTION procgate.grant_execute(name text, role text) RETURNS TABLE (procedure text, role text)
LANGUAGE sql
BEGIN ATOMIC
  SELECT g.procedure, g.role FROM procgate_internal.api_set_execute(current_user, $1, $2, true) g;
END;
COMMENT ON FUNCTION procgate.grant_execute(text, text) IS 'GRANT EXECUTE ON PROCEDURE name TO role';

CREATE FUNCTION procgate.revoke_execute(name text, role text) RETURNS TABLE (procedure text, role text)
LANGUAGE sql
BEGIN ATOMIC
  SELECT g.procedure, g.role FROM procgate_internal.api_set_execute(current_user, $1, $2, false) g;
END;
COMMENT ON FUNCTION procgate.revoke_execute(text, text) IS 'REVOKE EXECUTE ON PROCEDURE name FROM role';

CREATE FUNCTION procgate.show_procedures() RETURNS SETOF procgate.procedures
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT * FROM procgate.procedures p ORDER BY p.name;
END;
COMMENT ON FUNCTION procgate.show_procedures() IS 'SHOW PROCEDURES';

-- The show functions read the views as the caller, so they show what the caller may see.
CREATE FUNCTION procgate.show_procedure(name text) RETURNS SETOF procgate.procedures
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  RETURN QUERY SELECT * FROM procgate.procedures p WHERE p.name = $1;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'procedure "%" does not exist', $1 USING ERRCODE = 'undefined_function';
  END IF;
END
$fn$;
COMMENT ON FUNCTION procgate.show_procedure(text) IS 'SHOW PROCEDURE name';

CREATE FUNCTION procgate.show_procedure_status(run_id uuid DEFAULT NULL, run_tag text DEFAULT NULL)
RETURNS SETOF procgate.runs
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  RETURN QUERY
    SELECT * FROM procgate.runs r
     WHERE ($1 IS NULL OR r.run_id = $1) AND ($2 IS NULL OR r.run_tag = $2)
     ORDER BY r.created_at;
  IF NOT FOUND AND $1 IS NOT NULL THEN
    RAISE EXCEPTION 'run "%" does not exist', $1 USING ERRCODE = 'undefined_object';
  END IF;
END
$fn$;
COMMENT ON FUNCTION procgate.show_procedure_status(uuid, text) IS 'SHOW PROCEDURE STATUS [run_id] [WITH (run_tag = ...)]';
`;
