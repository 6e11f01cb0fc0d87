-- Live reports of a running segment: progress, rows and results from its
-- status channel, kept on the segment and rolled up into its run.

-- A run's progress: the share of its work done. Each segment is an equal
-- share, except an idle one (it had nothing to do), which is none; a
-- succeeded segment counts as done, any other as far as it got (a failed
-- or killed one too), so a run that did not finish keeps the progress it
-- reached. engine_roll_up makes a succeeded run 1.
CREATE OR REPLACE FUNCTION procgate_internal.engine_run_progress(p_run_id uuid) RETURNS numeric
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT coalesce(pg_catalog.trim_scale(pg_catalog.round(pg_catalog.avg(
           CASE WHEN s.state = 'succeeded' THEN 1 ELSE s.progress END), 4)), 0)
    FROM procgate_internal.run_segments s WHERE s.run_id = $1 AND NOT s.idle
$fn$;

-- Live figures of a running segment, fenced like a completion; the run's
-- progress, rows and results follow. A NULL leaves a figure as it is;
-- results are merged key by key.
CREATE OR REPLACE FUNCTION procgate_internal.engine_report(
  p_worker text, p_run_id uuid, p_segment int, p_attempt int, p_progress numeric, p_rows_in bigint,
  p_message text, p_results jsonb DEFAULT NULL, p_rows_out bigint DEFAULT NULL
) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  -- Run row first, as everywhere.
  PERFORM FROM procgate_internal.runs r WHERE r.run_id = p_run_id AND r.state = 'running' FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  UPDATE procgate_internal.run_segments s
     SET progress = CASE WHEN p_progress IS NULL THEN s.progress ELSE LEAST(GREATEST(p_progress, 0), 1) END,
         rows_in = coalesce(p_rows_in, s.rows_in),
         rows_out = coalesce(p_rows_out, s.rows_out),
         message = coalesce(p_message, s.message),
         results = CASE WHEN p_results IS NULL THEN s.results ELSE coalesce(s.results, '{}') || p_results END
   WHERE s.run_id = p_run_id AND s.segment = p_segment AND s.worker = p_worker AND s.attempt = p_attempt
     AND s.state = 'running';
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  UPDATE procgate_internal.runs r
     SET progress = procgate_internal.engine_run_progress(p_run_id),
         rows_in = (SELECT pg_catalog.sum(s.rows_in) FROM procgate_internal.run_segments s WHERE s.run_id = p_run_id),
         rows_out = (SELECT pg_catalog.sum(s.rows_out) FROM procgate_internal.run_segments s WHERE s.run_id = p_run_id),
         results = CASE WHEN p_results IS NULL THEN r.results ELSE
                     (SELECT pg_catalog.jsonb_object_agg(s.segment::text, s.results)
                        FROM procgate_internal.run_segments s
                       WHERE s.run_id = p_run_id AND s.results IS NOT NULL) END
   WHERE r.run_id = p_run_id;
  RETURN true;
END
$fn$;
