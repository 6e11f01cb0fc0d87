-- The sweeper: segments whose lease ran out go back to the queue (or fail
-- once out of retries), and finished runs lose their staged inputs.

-- Segments whose lease expired lost their worker: they go back to the
-- queue while the run's "retries" option allows another attempt, else they
-- fail with "worker lost". A retried segment's earlier attempt can never
-- commit (completion is fenced by attempt). A run being killed whose running
-- segments are all gone still has its queued ones killed by the roll-up.
-- Returns the runs touched.
CREATE OR REPLACE FUNCTION procgate_internal.engine_sweep() RETURNS int
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
