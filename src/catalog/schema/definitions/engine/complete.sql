-- Completion: a segment ends fenced by (worker, attempt), so a segment that
-- was swept and claimed again cannot be completed twice; the run's state
-- and counts roll up from its segments. Each locks the run row before its
-- segment rows (as KILL does), so they queue instead of deadlocking.

-- The first failed segment's error_code goes with its message.
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
  new_state text;
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
  SELECT CASE
           WHEN done < total THEN r.state
           WHEN r.state = 'cancelling' OR was_killed > 0 THEN 'killed'
           WHEN bad > 0 THEN 'failed'
           ELSE 'succeeded' END
    INTO new_state
    FROM procgate_internal.runs r WHERE r.run_id = p_run_id;
  -- The share of the work done (engine_run_progress); a run that failed or was killed keeps what it reached.
  UPDATE procgate_internal.runs r
     SET segments_succeeded = ok,
         segments_failed = bad,
         progress = CASE WHEN new_state = 'succeeded' THEN 1 ELSE procgate_internal.engine_run_progress(p_run_id) END,
         error = coalesce(r.error, first_error),
         error_code = CASE WHEN r.error IS NULL THEN first_error_code ELSE r.error_code END,
         rows_in = (SELECT coalesce(sum(s.rows_in), 0) FROM procgate_internal.run_segments s WHERE s.run_id = p_run_id),
         rows_out = (SELECT coalesce(sum(s.rows_out), 0) FROM procgate_internal.run_segments s WHERE s.run_id = p_run_id),
         results = (SELECT pg_catalog.jsonb_object_agg(s.segment::text, s.results)
                      FROM procgate_internal.run_segments s
                     WHERE s.run_id = p_run_id AND s.results IS NOT NULL),
         state = new_state,
         finished_at = CASE WHEN done < total THEN r.finished_at ELSE pg_catalog.clock_timestamp() END
   WHERE r.run_id = p_run_id AND r.state IN ('queued', 'running', 'cancelling');
END
$fn$;

CREATE OR REPLACE FUNCTION procgate_internal.engine_complete(
  p_worker text, p_run_id uuid, p_segment int, p_attempt int, p_state text, p_exit_code int,
  p_message text, p_results jsonb, p_output jsonb, p_rows_in bigint DEFAULT NULL, p_rows_out bigint DEFAULT NULL,
  p_error_code text DEFAULT NULL, p_idle boolean DEFAULT false, p_progress numeric DEFAULT NULL
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
         progress = CASE WHEN p_state = 'succeeded' THEN 1
                         WHEN p_progress IS NULL THEN s.progress
                         ELSE LEAST(GREATEST(p_progress, 0), 1) END,
         -- Only a segment that succeeded with nothing to do is idle: no share of the run's work.
         idle = p_state = 'succeeded' AND coalesce(p_idle, false)
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

-- The ends of many segments with nothing to load, in one transaction:
-- each as engine_complete records it, each fenced by its own (worker,
-- attempt, lease), so one fenced out is left as it is and the others are
-- recorded. p_ends: [{"run_id", "segment", "attempt", "state", "exit_code",
-- "message", "results", "output", "rows_in", "rows_out", "error_code",
-- "idle", "progress"}]. Run rows are locked first, in run_id order (as
-- KILL's UPDATE of many runs takes them), then each run rolls up once:
-- a succeeded run of one segment in the same statement, the others by
-- engine_roll_up.
-- Returns the segments recorded.
CREATE OR REPLACE FUNCTION procgate_internal.engine_complete_batch(p_worker text, p_ends jsonb)
RETURNS TABLE (run_id uuid, segment int, attempt int)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  done_runs uuid[];
  done_segments int[];
  done_attempts int[];
  other_runs uuid[];
  finished uuid;
BEGIN
  IF EXISTS (SELECT FROM pg_catalog.jsonb_array_elements(p_ends) e
              WHERE (e ->> 'state') IS NULL OR e ->> 'state' NOT IN ('succeeded', 'failed', 'killed')) THEN
    RAISE EXCEPTION 'a segment can only finish as succeeded, failed or killed' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM FROM procgate_internal.runs r
   WHERE r.run_id IN (SELECT (e ->> 'run_id')::uuid FROM pg_catalog.jsonb_array_elements(p_ends) e)
   ORDER BY r.run_id
     FOR UPDATE;
  WITH ends AS (
    SELECT * FROM pg_catalog.jsonb_to_recordset(p_ends) AS e (
      run_id uuid, segment int, attempt int, state text, exit_code int, message text, results jsonb,
      output jsonb, rows_in bigint, rows_out bigint, error_code text, idle boolean, progress numeric)
  ), recorded AS (
    UPDATE procgate_internal.run_segments s
       SET state = e.state, exit_code = e.exit_code, message = e.message, results = e.results,
           error_code = CASE WHEN e.state = 'failed' THEN e.error_code END,
           rows_in = coalesce(e.rows_in, s.rows_in), rows_out = coalesce(e.rows_out, s.rows_out),
           finished_at = pg_catalog.clock_timestamp(), lease_until = NULL,
           progress = CASE WHEN e.state = 'succeeded' THEN 1
                           WHEN e.progress IS NULL THEN s.progress
                           ELSE LEAST(GREATEST(e.progress, 0), 1) END,
           idle = e.state = 'succeeded' AND coalesce(e.idle, false)
      FROM ends e
     WHERE s.run_id = e.run_id AND s.segment = e.segment AND s.worker = p_worker AND s.attempt = e.attempt
       AND s.state = 'running' AND s.lease_until >= pg_catalog.clock_timestamp()
    RETURNING s.run_id, s.segment, s.attempt, s.state, s.results, s.rows_in, s.rows_out
  ), succeeded AS (
    -- A running run of one segment that succeeded rolls up to what
    -- engine_roll_up would make of it, here, for all such runs at once.
    UPDATE procgate_internal.runs r
       SET segments_succeeded = 1, segments_failed = 0, progress = 1,
           error_code = CASE WHEN r.error IS NULL THEN NULL ELSE r.error_code END,
           rows_in = coalesce(d.rows_in, 0), rows_out = coalesce(d.rows_out, 0),
           results = CASE WHEN d.results IS NULL THEN NULL ELSE pg_catalog.jsonb_build_object('0', d.results) END,
           state = 'succeeded', finished_at = pg_catalog.clock_timestamp()
      FROM recorded d
     WHERE r.run_id = d.run_id AND d.state = 'succeeded' AND r.segments_total = 1 AND r.state = 'running'
    RETURNING r.run_id
  ), lines AS (
    INSERT INTO procgate_internal.run_output (run_id, segment, stream, line_no, line)
    SELECT o.run_id, o.segment, o.stream, o.line_no, o.line
      FROM (SELECT d.run_id, d.segment, l.*,
                   coalesce((r.options -> 'max_output_lines' ->> 'value')::int, 100) AS keep,
                   pg_catalog.row_number() OVER (PARTITION BY d.run_id, d.segment, l.stream ORDER BY l.line_no DESC) AS from_end
              FROM recorded d
              JOIN ends e ON e.run_id = d.run_id AND e.segment = d.segment
              JOIN procgate_internal.runs r ON r.run_id = d.run_id
             CROSS JOIN LATERAL pg_catalog.jsonb_to_recordset(coalesce(e.output, '[]')) AS l (stream text, line_no bigint, line text)) o
     WHERE o.from_end <= o.keep
    ON CONFLICT DO NOTHING
  )
  SELECT pg_catalog.array_agg(d.run_id), pg_catalog.array_agg(d.segment), pg_catalog.array_agg(d.attempt),
         pg_catalog.array_agg(d.run_id) FILTER (WHERE d.run_id NOT IN (SELECT q.run_id FROM succeeded q))
    INTO done_runs, done_segments, done_attempts, other_runs
    FROM recorded d;
  FOR finished IN SELECT DISTINCT u FROM pg_catalog.unnest(other_runs) u ORDER BY u LOOP
    PERFORM procgate_internal.engine_roll_up(finished);
  END LOOP;
  RETURN QUERY
  SELECT * FROM ROWS FROM (pg_catalog.unnest(done_runs), pg_catalog.unnest(done_segments), pg_catalog.unnest(done_attempts));
END
$fn$;
