-- Loading a segment's output: the engine COPYs the rows straight into the
-- INTO tables through the segment's own login (engine/segment-logins.sql),
-- a session that starts as the run's caller and can be no more than the
-- caller, so the caller's privileges, triggers, defaults and checks apply.
-- The segment's completion goes in the same transaction, fenced by
-- (worker, attempt): a segment whose lease was lost writes no row.
--
-- The program knew a password of that login, so the completion must not be
-- callable from the program's sessions. Before it commits, the engine gives
-- the login a fresh password that only the engine knows and ends the
-- login's other sessions (engine_output_login, engine_output_committer);
-- api_complete_output then completes a segment only in the session whose
-- session_user is that segment attempt's login AND whose backend is the one
-- the engine recorded from its own connection, and only once per record.
-- A caller's trigger running in that session could call it too: it would
-- only use the record up, so the engine's own completion finds nothing and
-- rolls everything back.

-- Whether the segment runs under this worker at this attempt on a live lease: the claim both steps are fenced by.
CREATE OR REPLACE FUNCTION procgate_internal.engine_holds_segment(
  p_worker text, p_run_id uuid, p_segment int, p_attempt int
) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT EXISTS (
    SELECT FROM procgate_internal.run_segments s
     WHERE s.run_id = p_run_id AND s.segment = p_segment AND s.worker = p_worker AND s.attempt = p_attempt
       AND s.state = 'running' AND s.lease_until >= pg_catalog.clock_timestamp())
$fn$;

-- Step 1: the login of a segment this worker runs at this attempt, with a
-- fresh password (its SCRAM verifier) that only the engine knows; returns
-- the role's name, or NULL when the claim is lost (no such segment running
-- here, or its lease ran out). To be committed before the engine logs in.
CREATE OR REPLACE FUNCTION procgate_internal.engine_output_login(
  p_worker text, p_run_id uuid, p_segment int, p_attempt int, p_verifier text
) RETURNS name
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  login name;
BEGIN
  IF NOT procgate_internal.engine_holds_segment(p_worker, p_run_id, p_segment, p_attempt) THEN
    RETURN NULL;
  END IF;
  SELECT l.role INTO login FROM procgate_internal.segment_logins l
   WHERE l.run_id = p_run_id AND l.segment = p_segment AND l.attempt = p_attempt
     FOR UPDATE;
  IF NOT FOUND OR pg_catalog.to_regrole(pg_catalog.quote_ident(login)) IS NULL THEN
    RAISE EXCEPTION 'segment % of run % has no database login at attempt %', p_segment, p_run_id, p_attempt
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  PERFORM pg_catalog.set_config('synchronous_commit', 'off', true);
  EXECUTE pg_catalog.format('ALTER ROLE %I LOGIN PASSWORD %L', login, p_verifier);
  UPDATE procgate_internal.segment_logins l SET committer_pid = NULL WHERE l.role = login;
  RETURN login;
END
$fn$;

-- Step 2, once the engine is logged in with that password: records the
-- backend of the engine's session (`p_pid`), takes LOGIN and the password
-- away, and ends every other session of the login, waiting up to a second for each. False when the claim is
-- lost. From here on nothing of the program can act in the database.
CREATE OR REPLACE FUNCTION procgate_internal.engine_output_committer(
  p_worker text, p_run_id uuid, p_segment int, p_attempt int, p_pid int
) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  login name;
BEGIN
  IF NOT procgate_internal.engine_holds_segment(p_worker, p_run_id, p_segment, p_attempt) THEN
    RETURN false;
  END IF;
  UPDATE procgate_internal.segment_logins l SET committer_pid = p_pid
   WHERE l.run_id = p_run_id AND l.segment = p_segment AND l.attempt = p_attempt
  RETURNING l.role INTO login;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  -- The engine's session is made: no other may be, whatever password a session of the login
  -- (the program's, or a caller's trigger in the engine's) set meanwhile; step 1 gives LOGIN back.
  EXECUTE pg_catalog.format('ALTER ROLE %I NOLOGIN PASSWORD NULL', login);
  PERFORM pg_catalog.pg_stat_clear_snapshot();
  PERFORM pg_catalog.pg_terminate_backend(a.pid, 1000)
     FROM pg_catalog.pg_stat_get_activity(NULL) a
    WHERE a.usesysid = pg_catalog.to_regrole(pg_catalog.quote_ident(login)) AND a.pid <> p_pid;
  RETURN true;
END
$fn$;

-- Step 3, in the engine's session of the login, after the output rows went
-- into the INTO tables: engine_complete, if this session is the committer
-- the engine recorded (see above); the record is used up. Anyone else gets
-- 42501. EXECUTE for PUBLIC (privileges.sql, as every api_*), because the
-- session runs as the caller; only procgate.complete_segment_output names it.
CREATE OR REPLACE FUNCTION procgate_internal.api_complete_output(
  p_worker text, p_run_id uuid, p_segment int, p_attempt int, p_state text, p_exit_code int,
  p_message text, p_results jsonb, p_output jsonb, p_rows_in bigint, p_rows_out bigint,
  p_error_code text, p_idle boolean, p_progress numeric
) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  UPDATE procgate_internal.segment_logins l SET committer_pid = NULL
   WHERE l.run_id = p_run_id AND l.segment = p_segment AND l.attempt = p_attempt
     AND l.role = session_user AND l.committer_pid = pg_catalog.pg_backend_pid();
  IF NOT FOUND THEN
    RAISE EXCEPTION 'only the engine completes segment % of run %', p_segment, p_run_id
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN procgate_internal.engine_complete(p_worker, p_run_id, p_segment, p_attempt, p_state, p_exit_code,
    p_message, p_results, p_output, p_rows_in, p_rows_out, p_error_code, p_idle, p_progress);
END
$fn$;

-- The name the engine's session of a login calls (it has no USAGE on procgate_internal).
CREATE OR REPLACE FUNCTION procgate.complete_segment_output(
  worker text, run_id uuid, segment int, attempt int, state text, exit_code int,
  message text, results jsonb, output jsonb, rows_in bigint, rows_out bigint,
  error_code text, idle boolean, progress numeric
) RETURNS boolean
LANGUAGE sql
BEGIN ATOMIC
  SELECT procgate_internal.api_complete_output($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14);
END;

COMMENT ON FUNCTION procgate.complete_segment_output(text, uuid, int, int, text, int, text, jsonb, jsonb, bigint,
  bigint, text, boolean, numeric) IS 'the engine''s own: completes a segment in its session that loaded the output';
