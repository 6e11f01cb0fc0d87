-- Segment logins: a command or javascript segment's own way into the
-- database, with exactly the rights of the role that executed the run.
--
-- Each is a role made for one attempt of one segment: LOGIN with a random
-- password (the engine sends only its SCRAM verifier), NOINHERIT, a member
-- of the caller, and `role` set to the caller at login. A session of it so
-- starts as the caller (current_user is the caller, superuser if the caller
-- is one); RESET ROLE goes back to the caller, SET ROLE NONE to the login
-- itself, which has no rights of its own (NOINHERIT), and SET ROLE reaches
-- only roles the caller may become. The engine drops it when the segment
-- ends, the sweep when the segment was lost (engine_segment_logins_stale).
-- The engine's own role makes and drops them: these functions stay its.

-- The login of a segment this worker runs at this attempt, made with this
-- SCRAM verifier; returns its name. A crash of PostgreSQL may lose it (its
-- commit does not wait for the disk): then no program has used it either.
CREATE OR REPLACE FUNCTION procgate_internal.engine_segment_login_create(
  p_worker text, p_run_id uuid, p_segment int, p_attempt int, p_verifier text
) RETURNS name
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  caller name;
  -- At most 9 + 32 + 2 x 11 = 63 characters: NAMEDATALEN holds it.
  login name := pg_catalog.format('procgate_%s_%s_%s',
    pg_catalog.replace(p_run_id::text, '-', ''), p_segment, p_attempt);
BEGIN
  SELECT r.submitted_by INTO caller
    FROM procgate_internal.run_segments s JOIN procgate_internal.runs r ON r.run_id = s.run_id
   WHERE s.run_id = p_run_id AND s.segment = p_segment AND s.attempt = p_attempt
     AND s.state = 'running' AND s.worker = p_worker;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'segment % of run % is not running here at attempt %', p_segment, p_run_id, p_attempt
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  PERFORM pg_catalog.set_config('synchronous_commit', 'off', true);
  INSERT INTO procgate_internal.segment_logins (role, run_id, segment, attempt, caller)
  VALUES (login, p_run_id, p_segment, p_attempt, caller);
  EXECUTE pg_catalog.format('CREATE ROLE %I LOGIN NOINHERIT PASSWORD %L IN ROLE %I', login, p_verifier, caller);
  EXECUTE pg_catalog.format('ALTER ROLE %I SET role = %L', login, caller);
  -- An engine role that is no superuser (CREATEROLE, under --database) needs the
  -- login's privileges to end its sessions and give away what it owns.
  IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
    EXECUTE pg_catalog.format('GRANT %I TO %I', login, current_user);
  END IF;
  RETURN login;
END
$fn$;

-- Dropping a login, step 1 of engine_segment_login_drop: no new session
-- (NOLOGIN, no password), to be committed before its sessions are ended.
-- False when there is no such role (dropped already).
CREATE OR REPLACE FUNCTION procgate_internal.segment_login_close(p_run_id uuid, p_segment int, p_attempt int)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  login name;
BEGIN
  -- Droppers of one login (its engine, a sweep) take their turns here.
  SELECT l.role INTO login FROM procgate_internal.segment_logins l
   WHERE l.run_id = p_run_id AND l.segment = p_segment AND l.attempt = p_attempt
     FOR UPDATE;
  IF NOT FOUND OR pg_catalog.to_regrole(pg_catalog.quote_ident(login)) IS NULL THEN
    RETURN false;
  END IF;
  PERFORM pg_catalog.set_config('synchronous_commit', 'off', true);
  EXECUTE pg_catalog.format('ALTER ROLE %I NOLOGIN PASSWORD NULL', login);
  RETURN true;
END
$fn$;

-- Ends the sessions of a role that show now (not as this transaction first
-- saw them), waiting up to `p_wait_ms` for each to go.
CREATE OR REPLACE FUNCTION procgate_internal.segment_login_terminate(p_role oid, p_wait_ms bigint) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT pg_catalog.pg_stat_clear_snapshot();
  SELECT pg_catalog.pg_terminate_backend(a.pid, p_wait_ms)
    FROM pg_catalog.pg_stat_get_activity(NULL) a WHERE a.usesysid = p_role;
$fn$;

-- Step 2: ends the login's sessions (waiting a moment for each), gives what
-- it owns here to the caller and drops the role. When that fails (it owns
-- objects or holds privileges in another database, a lock does not come)
-- the role stays, without LOGIN, password or membership of the caller, and
-- the failure is kept for the sweep to try again; it is returned (NULL:
-- dropped).
CREATE OR REPLACE FUNCTION procgate_internal.segment_login_remove(p_run_id uuid, p_segment int, p_attempt int)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  login procgate_internal.segment_logins;
  login_oid oid;
  failure text;
  detail text;
BEGIN
  SELECT * INTO login FROM procgate_internal.segment_logins l
   WHERE l.run_id = p_run_id AND l.segment = p_segment AND l.attempt = p_attempt
     FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  PERFORM pg_catalog.set_config('synchronous_commit', 'off', true);
  login_oid := pg_catalog.to_regrole(pg_catalog.quote_ident(login.role));
  BEGIN
    SET LOCAL lock_timeout = '1s';
    IF login_oid IS NOT NULL THEN
      PERFORM procgate_internal.segment_login_terminate(login_oid, 1000);
      -- It seldom owns anything, and reassigning takes the caller's privileges, which
      -- an engine role that is no superuser may lack: only what there is goes.
      IF pg_catalog.to_regrole(pg_catalog.quote_ident(login.caller)) IS NOT NULL
         AND EXISTS (SELECT FROM pg_catalog.pg_shdepend d
                      WHERE d.refclassid = 'pg_catalog.pg_authid'::pg_catalog.regclass
                        AND d.refobjid = login_oid AND d.deptype = 'o'
                        AND d.dbid = (SELECT b.oid FROM pg_catalog.pg_database b
                                       WHERE b.datname = pg_catalog.current_database())) THEN
        EXECUTE pg_catalog.format('REASSIGN OWNED BY %I TO %I', login.role, login.caller);
      END IF;
      EXECUTE pg_catalog.format('DROP OWNED BY %I', login.role);
      -- A session that was still logging in as step 1 committed shows by now: it goes too.
      PERFORM procgate_internal.segment_login_terminate(login_oid, 0);
      EXECUTE pg_catalog.format('DROP ROLE %I', login.role);
    END IF;
    DELETE FROM procgate_internal.segment_logins l WHERE l.role = login.role;
    RETURN NULL;
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    failure := SQLERRM || coalesce(': ' || pg_catalog.replace(nullif(detail, ''), E'\n', '; '), '');
  END;
  BEGIN
    IF pg_catalog.to_regrole(pg_catalog.quote_ident(login.caller)) IS NOT NULL THEN
      EXECUTE pg_catalog.format('REVOKE %I FROM %I', login.caller, login.role);
    END IF;
  EXCEPTION WHEN OTHERS THEN
    NULL;
  END;
  UPDATE procgate_internal.segment_logins l
     SET drop_failed_at = pg_catalog.clock_timestamp(), drop_error = failure
   WHERE l.role = login.role;
  RETURN failure;
END
$fn$;

-- Drops the login of a segment, in one call and two transactions: no new
-- session from the first commit on; its sessions ended, what it owns here
-- given to the caller and the role dropped in the second. A procedure,
-- because only a procedure may commit (call it outside a transaction
-- block). `failure` is why the role could not be dropped (NULL: dropped,
-- or there was no such login).
CREATE OR REPLACE PROCEDURE procgate_internal.engine_segment_login_drop(
  p_run_id uuid, p_segment int, p_attempt int, INOUT failure text DEFAULT NULL
)
LANGUAGE plpgsql
AS $proc$
BEGIN
  IF procgate_internal.segment_login_close(p_run_id, p_segment, p_attempt) THEN
    COMMIT;
  END IF;
  failure := procgate_internal.segment_login_remove(p_run_id, p_segment, p_attempt);
END
$proc$;

-- Ends the sessions of several roles that show now, waiting up to
-- `p_wait_ms` for each to go (segment_login_terminate, for many at once).
CREATE OR REPLACE FUNCTION procgate_internal.segment_logins_terminate(p_roles oid[], p_wait_ms bigint) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT pg_catalog.pg_stat_clear_snapshot();
  SELECT pg_catalog.pg_terminate_backend(a.pid, p_wait_ms)
    FROM pg_catalog.pg_stat_get_activity(NULL) a WHERE a.usesysid = ANY (p_roles);
$fn$;

-- Step 2 of engine_segment_logins_drop, for all of its logins at once:
-- their sessions ended (one look at the sessions for all), the roles
-- dropped in one statement. False, with nothing changed but sessions
-- ended, when that does not work out (a login owns something here, a
-- drop fails): then segment_login_remove takes them one by one, each
-- with its own failure.
CREATE OR REPLACE FUNCTION procgate_internal.segment_logins_remove_all(
  p_run_ids uuid[], p_segments int[], p_attempts int[]
) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  roles name[];
  oids oid[];
  names text;
BEGIN
  -- Droppers of one login (its engine, a sweep) take their turns here; in one order, so no two batches deadlock.
  PERFORM FROM procgate_internal.segment_logins l
    JOIN unnest(p_run_ids, p_segments, p_attempts) AS a (run_id, segment, attempt)
      ON l.run_id = a.run_id AND l.segment = a.segment AND l.attempt = a.attempt
   ORDER BY l.role
     FOR UPDATE OF l;
  SELECT pg_catalog.array_agg(l.role) INTO roles FROM procgate_internal.segment_logins l
    JOIN unnest(p_run_ids, p_segments, p_attempts) AS a (run_id, segment, attempt)
      ON l.run_id = a.run_id AND l.segment = a.segment AND l.attempt = a.attempt;
  IF roles IS NULL THEN
    RETURN true;
  END IF;
  PERFORM pg_catalog.set_config('synchronous_commit', 'off', true);
  SELECT pg_catalog.array_agg(r.oid), pg_catalog.string_agg(pg_catalog.quote_ident(r.rolname), ', ')
    INTO oids, names FROM pg_catalog.pg_roles r WHERE r.rolname = ANY (roles);
  BEGIN
    SET LOCAL lock_timeout = '1s';
    IF oids IS NOT NULL THEN
      PERFORM procgate_internal.segment_logins_terminate(oids, 1000);
      -- What a login owns here goes to its caller: segment_login_remove's business.
      IF EXISTS (SELECT FROM pg_catalog.pg_shdepend d
                  WHERE d.refclassid = 'pg_catalog.pg_authid'::pg_catalog.regclass
                    AND d.refobjid = ANY (oids) AND d.deptype = 'o'
                    AND d.dbid = (SELECT b.oid FROM pg_catalog.pg_database b
                                   WHERE b.datname = pg_catalog.current_database())) THEN
        RETURN false;
      END IF;
      EXECUTE 'DROP OWNED BY ' || names;
      -- A session that was still logging in as step 1 committed shows by now: it goes too.
      PERFORM procgate_internal.segment_logins_terminate(oids, 0);
      EXECUTE 'DROP ROLE ' || names;
    END IF;
    DELETE FROM procgate_internal.segment_logins l WHERE l.role = ANY (roles);
    RETURN true;
  EXCEPTION WHEN OTHERS THEN
    RETURN false;
  END;
END
$fn$;

-- Drops the logins of several segments, as engine_segment_login_drop
-- drops one's, with two commits for all: no new session of any from the
-- first on; then their sessions ended and the roles dropped, all at once
-- when that works (segment_logins_remove_all), else one by one.
-- `failures` lines up with the segments given: why a role could not be
-- dropped, NULL when it was (or there was no such login).
CREATE OR REPLACE PROCEDURE procgate_internal.engine_segment_logins_drop(
  p_run_ids uuid[], p_segments int[], p_attempts int[], INOUT failures text[] DEFAULT NULL
)
LANGUAGE plpgsql
AS $proc$
DECLARE
  n int := coalesce(pg_catalog.array_length(p_run_ids, 1), 0);
  closed boolean := false;
BEGIN
  FOR i IN 1 .. n LOOP
    IF procgate_internal.segment_login_close(p_run_ids[i], p_segments[i], p_attempts[i]) THEN
      closed := true;
    END IF;
  END LOOP;
  IF closed THEN
    COMMIT;
  END IF;
  failures := pg_catalog.array_fill(NULL::text, ARRAY[n]);
  IF n > 0 AND NOT procgate_internal.segment_logins_remove_all(p_run_ids, p_segments, p_attempts) THEN
    FOR i IN 1 .. n LOOP
      failures[i] := procgate_internal.segment_login_remove(p_run_ids[i], p_segments[i], p_attempts[i]);
    END LOOP;
  END IF;
END
$proc$;

-- The logins to drop: those whose segment no longer runs at their attempt
-- (it ended, or its engine was lost and the sweep failed or requeued it),
-- a login that could not be dropped once `p_retry` after the last try.
CREATE OR REPLACE FUNCTION procgate_internal.engine_segment_logins_stale(p_retry interval)
RETURNS TABLE (run_id uuid, segment int, attempt int, role name)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT l.run_id, l.segment, l.attempt, l.role FROM procgate_internal.segment_logins l
   WHERE NOT EXISTS (SELECT FROM procgate_internal.run_segments s
                      WHERE s.run_id = l.run_id AND s.segment = l.segment AND s.attempt = l.attempt
                        AND s.state = 'running')
     AND (l.drop_failed_at IS NULL OR l.drop_failed_at < pg_catalog.clock_timestamp() - p_retry)
   ORDER BY l.created_at
$fn$;
