/**
 * Leases, completion and the sweeper. Each locks the run row before its
 * segment rows (as KILL does), so they queue behind each other instead of
 * deadlocking.
 */
export const leaseAndComplete = `
-- A run's columns recomputed from its segments; once every segment has
-- finished the run finishes too: killed if it was being killed (or a
-- segment was), failed if a segment failed, else succeeded.
CREATE FUNCTION procgate_internal.engine_roll_up(p_run_id uuid) RETURNS void
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
BEGIN
  -- A run being killed starts nothing more.
  UPDATE procgate_internal.run_segments s
     SET state = 'killed', finished_at = pg_catalog.clock_timestamp()
    FROM procgate_internal.runs r
   WHERE s.run_id = p_run_id AND r.run_id = p_run_id AND r.state = 'cancelling' AND s.state = 'queued';
  SELECT count(*), count(*) FILTER (WHERE s.state IN ('succeeded', 'failed', 'killed')),
         count(*) FILTER (WHERE s.state = 'succeeded'), count(*) FILTER (WHERE s.state = 'failed'),
         count(*) FILTER (WHERE s.state = 'killed')
    INTO total, done, ok, bad, was_killed
    FROM procgate_internal.run_segments s WHERE s.run_id = p_run_id;
  SELECT s.message INTO first_error FROM procgate_internal.run_segments s
   WHERE s.run_id = p_run_id AND s.state = 'failed'
   ORDER BY s.finished_at, s.segment LIMIT 1;
  UPDATE procgate_internal.runs r
     SET segments_succeeded = ok,
         segments_failed = bad,
         progress = CASE WHEN total = 0 THEN 1 ELSE pg_catalog.trim_scale(pg_catalog.round(done::numeric / total, 4)) END,
         error = coalesce(r.error, first_error),
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

-- Renews the leases of the segments the worker still holds (a segment it
-- no longer runs, say one whose end could not be recorded, is left to
-- expire and be swept) and returns those whose run is no longer running
-- (killed, or finished without them), so the worker stops them.
CREATE FUNCTION procgate_internal.engine_heartbeat(
  p_worker text, lease interval, p_run_ids uuid[], p_segments int[], p_attempts int[]
) RETURNS TABLE (run_id uuid, segment int, attempt int)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  UPDATE procgate_internal.runs r SET heartbeat_at = pg_catalog.clock_timestamp()
   WHERE r.run_id = ANY (p_run_ids) AND r.state IN ('running', 'cancelling');
  RETURN QUERY
  WITH held AS (
    SELECT * FROM ROWS FROM (pg_catalog.unnest(p_run_ids), pg_catalog.unnest(p_segments), pg_catalog.unnest(p_attempts))
      AS h (run_id, segment, attempt)
  ), renewed AS (
    UPDATE procgate_internal.run_segments s SET lease_until = pg_catalog.clock_timestamp() + lease
      FROM held h
     WHERE s.run_id = h.run_id AND s.segment = h.segment AND s.attempt = h.attempt
       AND s.worker = p_worker AND s.state = 'running'
    RETURNING s.run_id, s.segment, s.attempt)
  SELECT n.run_id, n.segment, n.attempt
    FROM renewed n JOIN procgate_internal.runs r ON r.run_id = n.run_id
   WHERE r.state NOT IN ('queued', 'running');
END
$fn$;

-- Finishes a segment if worker still holds its lease at this attempt:
-- its state, its output lines (the last max_output_lines per stream), its
-- row counts and the run's roll-up commit together, in the transaction
-- that loaded its output rows. Returns false when the lease was lost: the
-- engine then rolls back, output rows included.
CREATE FUNCTION procgate_internal.engine_complete(
  p_worker text, p_run_id uuid, p_segment int, p_attempt int, p_state text, p_exit_code int,
  p_message text, p_results jsonb, p_output jsonb, p_rows_in bigint DEFAULT NULL, p_rows_out bigint DEFAULT NULL
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

-- Segments whose lease expired lost their worker: they go back to the
-- queue while the run's "retries" option allows another attempt, else they
-- fail with "worker lost". A retried segment's earlier attempt can never
-- commit (completion is fenced by attempt). A run being killed whose running
-- segments are all gone still has its queued ones killed by the roll-up.
-- Returns the runs touched.
CREATE FUNCTION procgate_internal.engine_sweep() RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  swept uuid;
  retries int;
  n int := 0;
BEGIN
  FOR swept IN
    SELECT r.run_id FROM procgate_internal.runs r
     WHERE r.state IN ('running', 'cancelling')
       AND EXISTS (SELECT FROM procgate_internal.run_segments s
                    WHERE s.run_id = r.run_id
                      AND ((s.state = 'running' AND s.lease_until < pg_catalog.clock_timestamp())
                           OR (r.state = 'cancelling' AND s.state = 'queued')))
     ORDER BY r.created_at
       FOR UPDATE SKIP LOCKED
  LOOP
    SELECT coalesce((r.options -> 'retries' ->> 'value')::int, 0) INTO retries
      FROM procgate_internal.runs r WHERE r.run_id = swept;
    UPDATE procgate_internal.run_segments s
       SET state = 'queued', worker = NULL, pid = NULL, lease_until = NULL, started_at = NULL,
           message = pg_catalog.format('worker lost during attempt %s; retrying', s.attempt)
     WHERE s.run_id = swept AND s.state = 'running' AND s.lease_until < pg_catalog.clock_timestamp()
       AND s.attempt <= retries;
    IF FOUND THEN
      -- Wakes the engines when this commits, so the retry starts at once.
      PERFORM pg_catalog.pg_notify('procgate_runs', swept::text);
    END IF;
    UPDATE procgate_internal.run_segments s
       SET state = 'failed', message = 'worker lost', finished_at = pg_catalog.clock_timestamp(), lease_until = NULL
     WHERE s.run_id = swept AND s.state = 'running' AND s.lease_until < pg_catalog.clock_timestamp();
    PERFORM procgate_internal.engine_roll_up(swept);
    n := n + 1;
  END LOOP;
  RETURN n;
END
$fn$;
`;
