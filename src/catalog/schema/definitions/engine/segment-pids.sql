-- The process ids of segments' programs, several in one statement, each
-- fenced like a completion: a segment no longer running here at its
-- attempt keeps its row as it is. Returns how many were recorded.
CREATE OR REPLACE FUNCTION procgate_internal.engine_set_pids(
  p_worker text, p_run_ids uuid[], p_segments int[], p_attempts int[], p_pids int[]
) RETURNS int
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
  WITH updated AS (
    UPDATE procgate_internal.run_segments s SET pid = p.pid
      FROM unnest($2, $3, $4, $5) AS p (run_id, segment, attempt, pid)
     WHERE s.run_id = p.run_id AND s.segment = p.segment AND s.attempt = p.attempt
       AND s.worker = $1 AND s.state = 'running'
    RETURNING 1)
  SELECT count(*)::int FROM updated
$fn$;
