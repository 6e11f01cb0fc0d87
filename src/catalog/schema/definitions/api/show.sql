-- SHOW PROCEDURES, SHOW PROCEDURE name, SHOW PROCEDURE STATUS, and
-- procgate.run_error_code(run_id): the SQLSTATE of a failed run the caller
-- may see in procgate.runs.

-- SHOW PROCEDURES and SHOW PROCEDURE STATUS list many rows, so they keep to
-- columns that fit a terminal, times to the second; the views have the full
-- rows. SHOW PROCEDURE name, one procedure, shows its full row.
CREATE OR REPLACE FUNCTION procgate.show_procedures()
RETURNS TABLE (name text, kind text, mode text, owner name, created timestamptz)
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT p.name, COALESCE(p.type, p.language), p.execution_mode, p.owner, pg_catalog.date_trunc('second', p.created_at)
    FROM procgate.procedures p
   ORDER BY p.name;
END;

COMMENT ON FUNCTION procgate.show_procedures() IS 'SHOW PROCEDURES: name, kind (the TYPE, else the language), mode, owner, created';

-- The show functions read the views as the caller, so they show what the caller may see.
CREATE OR REPLACE FUNCTION procgate.show_procedure(name text) RETURNS SETOF procgate.procedures
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

CREATE OR REPLACE FUNCTION procgate.show_procedure_status(run_id uuid DEFAULT NULL, run_tag text DEFAULT NULL)
RETURNS SETOF procgate.run_status
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  RETURN QUERY
    SELECT r.run_id, r.procedure, r.state, r.progress, pg_catalog.date_trunc('second', r.started_at),
           pg_catalog.date_trunc('milliseconds', r.duration), r.error
      FROM procgate.runs r
     WHERE ($1 IS NULL OR r.run_id = $1) AND ($2 IS NULL OR r.run_tag = $2)
     ORDER BY r.created_at;
  IF NOT FOUND AND $1 IS NOT NULL THEN
    RAISE EXCEPTION 'run "%" does not exist', $1 USING ERRCODE = 'undefined_object';
  END IF;
END
$fn$;

COMMENT ON FUNCTION procgate.show_procedure_status(uuid, text) IS
  'SHOW PROCEDURE STATUS [run_id] [WITH (run_tag = ...)]: run_id, procedure, state, progress, started, duration, error';

-- procgate.runs keeps exactly the columns docs/design.md names: the code is read with this.
CREATE OR REPLACE FUNCTION procgate_internal.api_run_error_code(caller name, p_run_id uuid) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  PERFORM procgate_internal.check_caller(caller);
  RETURN (SELECT r.error_code FROM procgate_internal.runs r
           WHERE r.run_id = p_run_id AND (r.submitted_by = caller OR procgate_internal.is_admin(caller)));
END
$fn$;

CREATE OR REPLACE FUNCTION procgate.run_error_code(run_id uuid) RETURNS text
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT procgate_internal.api_run_error_code(current_user, $1);
END;

COMMENT ON FUNCTION procgate.run_error_code(uuid) IS
  'the SQLSTATE of what failed a run you may see (NULL when its program failed, or for no such run)';
