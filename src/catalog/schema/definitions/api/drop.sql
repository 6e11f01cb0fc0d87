-- DROP PROCEDURE: for the procedure's owner; takes its startup
-- registrations with it.

-- Dropping a procedure kills all of its runs, whoever submitted them.
CREATE OR REPLACE FUNCTION procgate_internal.api_drop_procedure(caller name, p_name text, p_if_exists boolean)
RETURNS TABLE (procedure text, runs_killed int)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  proc procgate_internal.procedures;
  killed int;
BEGIN
  PERFORM procgate_internal.check_caller(caller);
  IF coalesce(p_if_exists, false)
     AND NOT EXISTS (SELECT FROM procgate_internal.procedures p WHERE p.name = p_name) THEN
    RAISE NOTICE 'procedure "%" does not exist, skipping', p_name;
    RETURN;
  END IF;
  proc := procgate_internal.find_procedure(p_name, true);
  PERFORM procgate_internal.check_may_manage(caller, proc);
  SELECT count(*) INTO killed FROM procgate_internal.kill_runs_by_id(ARRAY(
    SELECT r.run_id FROM procgate_internal.runs r
     WHERE r.procedure_id = proc.id AND r.state IN ('queued', 'running')));
  DELETE FROM procgate_internal.procedures p WHERE p.id = proc.id;
  PERFORM pg_notify('procgate_catalog', proc.name);
  procedure := proc.name;
  runs_killed := killed;
  RETURN NEXT;
END
$fn$;

CREATE OR REPLACE FUNCTION procgate.drop_procedure(name text, if_exists boolean DEFAULT false)
RETURNS TABLE (procedure text, runs_killed int)
LANGUAGE sql
BEGIN ATOMIC
  SELECT d.procedure, d.runs_killed FROM procgate_internal.api_drop_procedure(current_user, $1, $2) d;
END;

COMMENT ON FUNCTION procgate.drop_procedure(text, boolean) IS 'DROP PROCEDURE [IF EXISTS]: kills its runs';
