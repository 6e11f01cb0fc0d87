-- Startup runs: EXECUTE PROCEDURE ... WITH (execute_at_startup = true)
-- queues no run; it keeps the invocation (parameters as evaluated now), and
-- every engine start queues a run of it (engine/startup.sql). One
-- registration per procedure and submitter: registering again replaces one's
-- own, while other roles' registrations are never touched. A registration
-- goes with its procedure or through procgate.drop_startup_run(id).

CREATE OR REPLACE VIEW procgate.startup_runs WITH (security_barrier) AS
SELECT
  s.id,
  p.name AS procedure,
  s.run_tag,
  s.params,
  s.input_queries,
  s.output_tables,
  s.options,
  s.submitted_by,
  s.run_as,
  s.created_at
FROM procgate_internal.startup_runs s
JOIN procgate_internal.procedures p ON p.id = s.procedure_id
WHERE (s.submitted_by = current_user OR pg_catalog.pg_has_role(current_user, 'procgate_admin', 'MEMBER'));

COMMENT ON VIEW procgate.startup_runs IS
  'procgate: runs you registered with execute_at_startup (every one for procgate_admin); each engine start queues them';

CREATE OR REPLACE TRIGGER read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON procgate.startup_runs
  FOR EACH ROW EXECUTE FUNCTION procgate_internal.reject_view_write();

-- EXECUTE with execute_at_startup: checks the invocation as for a run and
-- keeps it, replacing the caller's earlier registration for the procedure.
CREATE OR REPLACE FUNCTION procgate_internal.register_startup_run(
  proc procgate_internal.procedures, caller name, given jsonb, tables procgate.table_value[],
  output_tables text[], options jsonb
) RETURNS procgate_internal.startup_runs
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  inputs jsonb := procgate_internal.resolve_tables(proc, tables);
  startup_as name := coalesce(options -> 'execute_at_startup_as' ->> 'value', caller);
  registered procgate_internal.startup_runs;
BEGIN
  PERFORM procgate_internal.check_output_tables(proc, output_tables);
  -- The runs will act as that role (run_options checked the caller may), so it needs EXECUTE too.
  IF startup_as <> caller THEN
    PERFORM procgate_internal.check_may_execute(startup_as, proc);
  END IF;
  INSERT INTO procgate_internal.startup_runs AS s
         (procedure_id, run_tag, params, input_queries, output_tables, options, submitted_by, run_as)
  VALUES (proc.id, options -> 'run_tag' ->> 'value', procgate_internal.complete_params(proc, given, inputs),
          inputs, coalesce(output_tables, '{}'), options, caller, startup_as)
  ON CONFLICT (procedure_id, submitted_by) DO UPDATE
     SET run_tag = EXCLUDED.run_tag, params = EXCLUDED.params, input_queries = EXCLUDED.input_queries,
         output_tables = EXCLUDED.output_tables, options = EXCLUDED.options, run_as = EXCLUDED.run_as,
         created_at = EXCLUDED.created_at
  RETURNING s.* INTO registered;
  RETURN registered;
END
$fn$;

-- As KILL RUN: the submitter, a superuser or a member of procgate_admin.
CREATE OR REPLACE FUNCTION procgate_internal.api_drop_startup_run(caller name, p_id bigint)
RETURNS TABLE (id bigint, procedure text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  registration record;
BEGIN
  PERFORM procgate_internal.check_caller(caller);
  SELECT s.id, s.submitted_by, p.name INTO registration
    FROM procgate_internal.startup_runs s
    JOIN procgate_internal.procedures p ON p.id = s.procedure_id
   WHERE s.id = p_id
     FOR UPDATE OF s;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'startup run % does not exist', coalesce(p_id::text, 'NULL') USING ERRCODE = 'undefined_object';
  END IF;
  IF registration.submitted_by <> caller AND NOT procgate_internal.is_admin(caller) THEN
    RAISE EXCEPTION 'permission denied to drop startup run %', p_id
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'Only the submitter, a superuser or a member of procgate_admin can drop a startup run.';
  END IF;
  DELETE FROM procgate_internal.startup_runs s WHERE s.id = registration.id;
  id := registration.id;
  procedure := registration.name;
  RETURN NEXT;
END
$fn$;

CREATE OR REPLACE FUNCTION procgate.drop_startup_run(id bigint) RETURNS TABLE (id bigint, procedure text)
LANGUAGE sql
BEGIN ATOMIC
  SELECT d.id, d.procedure FROM procgate_internal.api_drop_startup_run(current_user, $1) d;
END;

COMMENT ON FUNCTION procgate.drop_startup_run(bigint)
  IS 'Removes a registration of EXECUTE PROCEDURE ... WITH (execute_at_startup = true) (procgate.startup_runs)';
