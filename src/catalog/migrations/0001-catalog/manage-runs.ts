/** KILL RUN(S), DROP PROCEDURE, GRANT/REVOKE EXECUTE. Owner-rights functions. */
export const manageRuns = `
-- A queued run is killed at once; a running one is asked to stop
-- (cancelling) and the engine finishes it. Finished runs stay as they are.
CREATE FUNCTION procgate_internal.kill_runs_by_id(ids uuid[])
RETURNS TABLE (run_id uuid, state text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  changed record;
BEGIN
  FOR changed IN
    UPDATE procgate_internal.runs r
       SET state = CASE WHEN r.state = 'queued' THEN 'killed' ELSE 'cancelling' END,
           finished_at = CASE WHEN r.state = 'queued' THEN clock_timestamp() ELSE r.finished_at END
     WHERE r.run_id = ANY (ids) AND r.state IN ('queued', 'running')
    RETURNING r.run_id, r.state
  LOOP
    IF changed.state = 'killed' THEN
      UPDATE procgate_internal.run_segments s
         SET state = 'killed', finished_at = clock_timestamp()
       WHERE s.run_id = changed.run_id AND s.state = 'queued';
    END IF;
    -- "kill:": engines look for segments to stop; other payloads only mean work.
    PERFORM pg_notify('procgate_runs', 'kill:' || changed.run_id::text);
    run_id := changed.run_id;
    state := changed.state;
    RETURN NEXT;
  END LOOP;
END
$fn$;

CREATE FUNCTION procgate_internal.api_kill_run(caller name, p_run_id uuid)
RETURNS TABLE (run_id uuid, state text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  submitter name;
BEGIN
  PERFORM procgate_internal.check_caller(caller);
  SELECT r.submitted_by INTO submitter FROM procgate_internal.runs r WHERE r.run_id = p_run_id;
  -- Kinetica's semantics: killing an unknown run is not an error; nothing is listed.
  IF NOT FOUND THEN
    RETURN;
  END IF;
  IF submitter <> caller AND NOT procgate_internal.is_admin(caller) THEN
    RAISE EXCEPTION 'permission denied to kill run "%"', p_run_id
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'Only the submitter, a superuser or a member of procgate_admin can kill a run.';
  END IF;
  RETURN QUERY SELECT * FROM procgate_internal.kill_runs_by_id(ARRAY[p_run_id]);
END
$fn$;

-- Without a procedure or tag: every active run the caller may kill.
CREATE FUNCTION procgate_internal.api_kill_runs(caller name, p_procedure text, p_run_tag text)
RETURNS TABLE (run_id uuid, state text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  PERFORM procgate_internal.check_caller(caller);
  IF p_procedure IS NOT NULL THEN
    PERFORM procgate_internal.find_procedure(p_procedure);
  END IF;
  RETURN QUERY SELECT * FROM procgate_internal.kill_runs_by_id(ARRAY(
    SELECT r.run_id FROM procgate_internal.runs r
     WHERE r.state IN ('queued', 'running')
       AND (p_procedure IS NULL OR r.procedure = p_procedure)
       AND (p_run_tag IS NULL OR r.run_tag = p_run_tag)
       AND (r.submitted_by = caller OR procgate_internal.is_admin(caller))
     ORDER BY r.created_at));
END
$fn$;

-- Dropping a procedure kills all of its runs, whoever submitted them.
CREATE FUNCTION procgate_internal.api_drop_procedure(caller name, p_name text, p_if_exists boolean)
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

-- The role to grant to: 'public' or an existing role.
CREATE FUNCTION procgate_internal.grantee(role_name text) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF lower(role_name) = 'public' THEN
    RETURN 'public';
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname = role_name) THEN
    RAISE EXCEPTION 'role "%" does not exist', coalesce(role_name, '') USING ERRCODE = 'undefined_object';
  END IF;
  RETURN role_name;
END
$fn$;

CREATE FUNCTION procgate_internal.api_set_execute(caller name, p_name text, p_role text, p_grant boolean)
RETURNS TABLE (procedure text, role text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  proc procgate_internal.procedures;
  grantee text;
BEGIN
  PERFORM procgate_internal.check_caller(caller);
  proc := procgate_internal.find_procedure(p_name, true);
  PERFORM procgate_internal.check_may_manage(caller, proc);
  grantee := procgate_internal.grantee(p_role);
  UPDATE procgate_internal.procedures p
     SET execute_roles = CASE
           WHEN NOT p_grant THEN array_remove(p.execute_roles, grantee)
           WHEN grantee = ANY (p.execute_roles) THEN p.execute_roles
           ELSE p.execute_roles || grantee END
   WHERE p.id = proc.id;
  PERFORM pg_notify('procgate_catalog', proc.name);
  procedure := proc.name;
  role := grantee;
  RETURN NEXT;
END
$fn$;
`;
