-- Heartbeat: a worker renews the leases of the segments it runs, and learns
-- which of them were killed meanwhile.

-- Renews the leases of the segments the worker still holds (a segment it
-- no longer runs, say one whose end could not be recorded, is left to
-- expire and be swept) and returns those whose run is no longer running
-- (killed, or finished without them), so the worker stops them. The
-- engine's own row (engines.sql) says it is live.
CREATE OR REPLACE FUNCTION procgate_internal.engine_heartbeat(
  p_worker text, lease interval, p_run_ids uuid[], p_segments int[], p_attempts int[]
) RETURNS TABLE (run_id uuid, segment int, attempt int)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  UPDATE procgate_internal.engines e SET heartbeat_at = pg_catalog.clock_timestamp() WHERE e.worker = p_worker;
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
