-- KILL RUN and KILL RUNS: owner-rights functions; a caller kills its own
-- runs, procgate_admin every run.

-- A queued run is killed at once; a running one is asked to stop
-- (cancelling) and the engine finishes it. Finished runs stay as they are.
CREATE OR REPLACE FUNCTION procgate_internal.kill_runs_by_id(ids uuid[])
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

CREATE OR REPLACE FUNCTION procgate_internal.api_kill_run(caller name, p_run_id uuid)
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
CREATE OR REPLACE FUNCTION procgate_internal.api_kill_runs(caller name, p_procedure text, p_run_tag text)
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

CREATE OR REPLACE FUNCTION procgate.kill_run(run_id uuid) RETURNS TABLE (run_id uuid, state text)
LANGUAGE sql
BEGIN ATOMIC
  SELECT k.run_id, k.state FROM procgate_internal.api_kill_run(current_user, $1) k;
END;

COMMENT ON FUNCTION procgate.kill_run(uuid) IS 'KILL RUN';

CREATE OR REPLACE FUNCTION procgate.kill_runs(procedure text DEFAULT NULL, run_tag text DEFAULT NULL)
RETURNS TABLE (run_id uuid, state text)
LANGUAGE sql
BEGIN ATOMIC
  SELECT k.run_id, k.state FROM procgate_internal.api_kill_runs(current_user, $1, $2) k;
END;

COMMENT ON FUNCTION procgate.kill_runs(text, text) IS 'KILL RUNS [OF PROCEDURE name] [WITH (run_tag = ...)]';
