
ALTER TABLE procgate_internal.runs ADD COLUMN error_code text;
ALTER TABLE procgate_internal.run_segments ADD COLUMN error_code text;

-- procgate.runs keeps exactly DESIGN.md's columns: the code is read with this.
CREATE FUNCTION procgate_internal.api_run_error_code(caller name, p_run_id uuid) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  PERFORM procgate_internal.check_caller(caller);
  RETURN (SELECT r.error_code FROM procgate_internal.runs r
           WHERE r.run_id = p_run_id AND (r.submitted_by = caller OR procgate_internal.is_admin(caller)));
END
$fn$;
GRANT EXECUTE ON FUNCTION procgate_internal.api_run_error_code(name, uuid) TO PUBLIC;

CREATE FUNCTION procgate.run_error_code(run_id uuid) RETURNS text
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT procgate_internal.api_run_error_code(current_user, $1);
END;
COMMENT ON FUNCTION procgate.run_error_code(uuid) IS
  'the SQLSTATE of what failed a run you may see (NULL when its program failed, or for no such run)';

-- As in version 2, and the first failed segment's error_code goes with its message.
CREATE OR REPLACE FUNCTION procgate_internal.engine_roll_up(p_run_id uuid) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  total int;
  done int;
  ok int;
  bad int;
  was_killed int;
  first_error text;
  first_error_code text;
BEGIN
  UPDATE procgate_internal.run_segments s
     SET state = 'killed', finished_at = pg_catalog.clock_timestamp()
    FROM procgate_internal.runs r
   WHERE s.run_id = p_run_id AND r.run_id = p_run_id AND r.state = 'cancelling' AND s.state = 'queued';
  SELECT count(*), count(*) FILTER (WHERE s.state IN ('succeeded', 'failed', 'killed')),
         count(*) FILTER (WHERE s.state = 'succeeded'), count(*) FILTER (WHERE s.state = 'failed'),
         count(*) FILTER (WHERE s.state = 'killed')
    INTO total, done, ok, bad, was_killed
    FROM procgate_internal.run_segments s WHERE s.run_id = p_run_id;
  SELECT s.message, s.error_code INTO first_error, first_error_code FROM procgate_internal.run_segments s
   WHERE s.run_id = p_run_id AND s.state = 'failed'
   ORDER BY s.finished_at, s.segment LIMIT 1;
  UPDATE procgate_internal.runs r
     SET segments_succeeded = ok,
         segments_failed = bad,
         progress = CASE WHEN total = 0 THEN 1 ELSE pg_catalog.trim_scale(pg_catalog.round(done::numeric / total, 4)) END,
         error = coalesce(r.error, first_error),
         error_code = CASE WHEN r.error IS NULL THEN first_error_code ELSE r.error_code END,
         rows_in = (SELECT coalesce(sum(s.rows_in), 0) FROM procgate_internal.run_segments s WHERE s.run_id = p_run_id),
         rows_out = (SELECT coalesce(sum(s.rows_out), 0) FROM procgate_internal.run_segments s WHERE s.run_id = p_run_id),
         results = (SELECT pg_catalog.jsonb_object_agg(s.segment::text, s.results)
                      FROM procgate_internal.run_segments s
                     WHERE s.run_id = p_run_id AND s.results IS NOT NULL),
         state = CASE
           WHEN done < total THEN r.state
           WHEN r.state = 'cancelling' OR was_killed > 0 THEN 'killed'
           WHEN bad > 0 THEN 'failed'
           ELSE 'succeeded' END,
         finished_at = CASE WHEN done < total THEN r.finished_at ELSE pg_catalog.clock_timestamp() END
   WHERE r.run_id = p_run_id AND r.state IN ('queued', 'running', 'cancelling');
END
$fn$;

-- As in version 2, with the segment's error_code.
DROP FUNCTION procgate_internal.engine_complete(text, uuid, int, int, text, int, text, jsonb, jsonb, bigint, bigint);
CREATE FUNCTION procgate_internal.engine_complete(
  p_worker text, p_run_id uuid, p_segment int, p_attempt int, p_state text, p_exit_code int,
  p_message text, p_results jsonb, p_output jsonb, p_rows_in bigint DEFAULT NULL, p_rows_out bigint DEFAULT NULL,
  p_error_code text DEFAULT NULL
) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  keep int;
BEGIN
  IF p_state NOT IN ('succeeded', 'failed', 'killed') THEN
    RAISE EXCEPTION 'a segment cannot finish as "%"', p_state USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT coalesce((r.options -> 'max_output_lines' ->> 'value')::int, 100) INTO keep
    FROM procgate_internal.runs r WHERE r.run_id = p_run_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  PERFORM FROM procgate_internal.run_segments s
   WHERE s.run_id = p_run_id AND s.segment = p_segment AND s.worker = p_worker AND s.attempt = p_attempt
     AND s.state = 'running' AND s.lease_until >= pg_catalog.clock_timestamp()
     FOR UPDATE;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  UPDATE procgate_internal.run_segments s
     SET state = p_state, exit_code = p_exit_code, message = p_message, results = p_results,
         error_code = CASE WHEN p_state = 'failed' THEN p_error_code END,
         rows_in = coalesce(p_rows_in, s.rows_in), rows_out = coalesce(p_rows_out, s.rows_out),
         finished_at = pg_catalog.clock_timestamp(), lease_until = NULL,
         progress = CASE WHEN p_state = 'succeeded' THEN 1 ELSE s.progress END
   WHERE s.run_id = p_run_id AND s.segment = p_segment;
  INSERT INTO procgate_internal.run_output (run_id, segment, stream, line_no, line)
  SELECT p_run_id, p_segment, o.stream, o.line_no, o.line
    FROM (SELECT l.*, pg_catalog.row_number() OVER (PARTITION BY l.stream ORDER BY l.line_no DESC) AS from_end
            FROM pg_catalog.jsonb_to_recordset(coalesce(p_output, '[]')) AS l (stream text, line_no bigint, line text)) o
   WHERE o.from_end <= keep
  ON CONFLICT DO NOTHING;
  PERFORM procgate_internal.engine_roll_up(p_run_id);
  RETURN true;
END
$fn$;
REVOKE ALL ON FUNCTION procgate_internal.engine_complete(text, uuid, int, int, text, int, text, jsonb, jsonb, bigint,
  bigint, text) FROM PUBLIC;

-- As in version 2, with the error's SQLSTATE.
DROP FUNCTION procgate_internal.engine_fail_planning(uuid, text);
CREATE FUNCTION procgate_internal.engine_fail_planning(p_run_id uuid, p_error text, p_error_code text)
RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
  UPDATE procgate_internal.runs r
     SET state = 'failed', error = $2, error_code = $3, segments_total = 0, finished_at = pg_catalog.clock_timestamp()
   WHERE r.run_id = $1 AND r.state = 'queued' AND r.segments_total IS NULL
$fn$;
REVOKE ALL ON FUNCTION procgate_internal.engine_fail_planning(uuid, text, text) FROM PUBLIC;

-- CALL raises a failed run's error with its error_code.

CREATE OR REPLACE PROCEDURE procgate.call_and_wait(
  name text, args procgate.arg_value[] DEFAULT NULL, tables procgate.table_value[] DEFAULT NULL,
  "into" text[] DEFAULT NULL, options procgate.arg_value[] DEFAULT NULL,
  INOUT run_id uuid DEFAULT NULL, INOUT procedure text DEFAULT NULL, INOUT state text DEFAULT NULL,
  INOUT run_tag text DEFAULT NULL, INOUT progress numeric DEFAULT NULL, INOUT error text DEFAULT NULL,
  INOUT results jsonb DEFAULT NULL, INOUT created_at timestamptz DEFAULT NULL,
  INOUT finished_at timestamptz DEFAULT NULL
)
LANGUAGE plpgsql
AS $proc$
DECLARE
  run record;
  told_state text;
  told_progress numeric;
  cancelled boolean;
  started_state text;
BEGIN
  SELECT e.run_id, e.state INTO call_and_wait.run_id, started_state
    FROM procgate.execute(call_and_wait.name, call_and_wait.args, call_and_wait.tables,
                          call_and_wait."into", call_and_wait.options) e;
  -- execute_at_startup queued no run, only registered one: nothing to wait for. The error undoes it.
  IF started_state = 'at startup' THEN
    RAISE EXCEPTION 'CALL cannot use option "execute_at_startup": CALL waits for its run'
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use EXECUTE PROCEDURE ... WITH (execute_at_startup = true).';
  END IF;
  -- From here on the run is there for the engines to take.
  COMMIT;
  LOOP
    cancelled := false;
    -- A cancel may land anywhere in here (not only in the sleep): each one kills the run.
    BEGIN
      SELECT r.* INTO run FROM procgate.runs r WHERE r.run_id = call_and_wait.run_id;
      IF run.state IS DISTINCT FROM told_state OR run.progress IS DISTINCT FROM told_progress THEN
        RAISE NOTICE 'run % of procedure "%": % (% %%)',
          run.run_id, run.procedure, run.state, pg_catalog.round(run.progress * 100);
        told_state := run.state;
        told_progress := run.progress;
      END IF;
      IF run.state NOT IN ('succeeded', 'failed', 'killed') THEN
        PERFORM pg_catalog.pg_sleep(0.05);
      END IF;
    EXCEPTION WHEN query_canceled THEN
      cancelled := true;
    END;
    IF cancelled THEN
      -- One CancelRequest can interrupt twice (the postmaster signals the
      -- backend and its process group, a moment apart): the second must
      -- neither undo the kill nor land on the COMMIT that keeps it. It is
      -- let in here first, then the kill is retried until it goes through.
      BEGIN
        PERFORM pg_catalog.pg_sleep(0.1);
      EXCEPTION WHEN query_canceled THEN
        NULL;
      END;
      LOOP
        BEGIN
          PERFORM procgate.kill_run(call_and_wait.run_id);
          EXIT;
        EXCEPTION WHEN query_canceled THEN
          NULL;
        END;
      END LOOP;
      COMMIT;
      RAISE EXCEPTION 'canceling statement due to user request'
        USING ERRCODE = 'query_canceled', DETAIL = pg_catalog.format('Run %s was killed.', call_and_wait.run_id);
    END IF;
    EXIT WHEN run.state IN ('succeeded', 'failed', 'killed');
    -- No transaction stays open while the run goes on.
    COMMIT;
  END LOOP;
  IF run.state = 'failed' THEN
    -- The SQLSTATE of what failed the run (schema version 6), else 38000: its program failed.
    RAISE EXCEPTION 'run % of procedure "%" failed: %', run.run_id, run.procedure, run.error
      USING ERRCODE = coalesce(procgate.run_error_code(run.run_id), '38000');
  ELSIF run.state = 'killed' THEN
    RAISE EXCEPTION 'run % of procedure "%" was killed', run.run_id, run.procedure
      USING ERRCODE = 'query_canceled';
  END IF;
  procedure := run.procedure;
  state := run.state;
  run_tag := run.run_tag;
  progress := run.progress;
  error := run.error;
  results := run.results;
  created_at := run.created_at;
  finished_at := run.finished_at;
END
$proc$;
COMMENT ON PROCEDURE procgate.call_and_wait(text, procgate.arg_value[], procgate.table_value[], text[],
  procgate.arg_value[], uuid, text, text, text, numeric, text, jsonb, timestamptz, timestamptz)
  IS 'CALL of a procgate procedure: queues the run, waits for it, returns it';

