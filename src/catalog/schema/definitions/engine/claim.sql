-- Claiming: a worker claims queued segments with FOR UPDATE SKIP LOCKED and a
-- lease. Lock order everywhere else is run row first, then segment rows; the
-- claim locks segments first, so it never waits on a run row (SKIP LOCKED
-- there too) and cannot close a deadlock. Also what a claimed segment needs:
-- its procedure's files and environment, and the pid it runs as.

-- Claims up to max_segments queued segments of procedures in the given
-- languages (the executors the worker has) for worker, leased for lease;
-- with single_only, only segments of runs of one segment. Runs without
-- table data have their segments from EXECUTE on (queue_run), so no
-- planning happens here. setup_key names the version of the procedure's
-- files and environment (the row versions of both), so a worker may keep
-- them between segments and never use a replaced one.
CREATE OR REPLACE FUNCTION procgate_internal.engine_claim_segments(
  p_worker text, max_segments int, lease interval, languages text[], single_only boolean
) RETURNS TABLE (
  run_id uuid, segment int, attempt int, segment_count int, procedure_id bigint, language text,
  command text, args text[], params jsonb, options jsonb, timeout_ms bigint, max_output_lines int,
  submitted_by name, staged_inputs jsonb, resolved_outputs jsonb, type_name text, setup_key text
)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- Planned once per session, not at each claim: planning this statement costs more than running it.
SET plan_cache_mode = force_generic_plan
AS $fn$
BEGIN
  RETURN QUERY
  WITH head AS (
    -- The oldest runs with segments to claim, running ones and queued ones
    -- apart, each read in created_at order from runs_state_idx: a long
    -- backlog (or the history of finished runs) is never read whole.
    (SELECT r.run_id, r.created_at, p.id AS procedure_id,
            coalesce((p.options -> 'max_concurrency_per_node' ->> 'value')::int, 0) AS cap
       FROM procgate_internal.runs r
       JOIN procgate_internal.procedures p ON p.id = r.procedure_id
      WHERE r.state = 'running' AND p.language = ANY (languages) AND (NOT single_only OR r.segments_total = 1)
      ORDER BY r.created_at
      LIMIT max_segments * 2 + 32)
    UNION ALL
    (SELECT r.run_id, r.created_at, p.id AS procedure_id,
            coalesce((p.options -> 'max_concurrency_per_node' ->> 'value')::int, 0) AS cap
       FROM procgate_internal.runs r
       JOIN procgate_internal.procedures p ON p.id = r.procedure_id
      WHERE r.state = 'queued' AND r.segments_total IS NOT NULL AND p.language = ANY (languages)
        AND (NOT single_only OR r.segments_total = 1)
      ORDER BY r.created_at
      LIMIT max_segments * 2 + 32)
  ), queue AS (
    -- The head of the queue: enough to fill the batch even if some are
    -- capped or locked by other engines. Reading it costs in proportion to
    -- its length, so it is the batch twice over and a little, not more.
    SELECT s.run_id, s.segment, h.created_at, h.procedure_id, h.cap
      FROM head h
     CROSS JOIN LATERAL (
       SELECT q.run_id, q.segment FROM procgate_internal.run_segments q
        WHERE q.run_id = h.run_id AND q.state = 'queued'
        ORDER BY q.segment
        LIMIT max_segments * 2 + 32) s
     ORDER BY h.created_at, s.segment
     LIMIT max_segments * 2 + 32
  ), busy AS (
    -- Segments of each capped procedure this worker runs already.
    SELECT mr.procedure_id, pg_catalog.count(*) AS n
      FROM procgate_internal.run_segments mine
      JOIN procgate_internal.runs mr ON mr.run_id = mine.run_id
     WHERE mine.worker = p_worker AND mine.state = 'running'
       AND mr.procedure_id IN (SELECT q.procedure_id FROM queue q WHERE q.cap > 0)
     GROUP BY mr.procedure_id
  ), candidates AS (
    -- max_concurrency_per_node caps how many segments of one procedure this
    -- worker runs at once (0: no cap), counting those it already runs.
    SELECT q.run_id, q.segment, q.created_at
      FROM (SELECT q.*, pg_catalog.row_number() OVER (PARTITION BY q.procedure_id ORDER BY q.created_at, q.segment) AS nth
              FROM queue q) q
      LEFT JOIN busy b ON b.procedure_id = q.procedure_id
     WHERE q.cap = 0 OR coalesce(b.n, 0) + q.nth <= q.cap
  ), picked AS (
    SELECT s.run_id, s.segment
      FROM procgate_internal.run_segments s
      JOIN candidates c ON c.run_id = s.run_id AND c.segment = s.segment
     WHERE s.state = 'queued'
     ORDER BY c.created_at, s.segment
     LIMIT max_segments
       FOR UPDATE OF s SKIP LOCKED
  ), claimed AS (
    UPDATE procgate_internal.run_segments s
       SET state = 'running', attempt = s.attempt + 1, worker = p_worker, pid = NULL,
           lease_until = pg_catalog.clock_timestamp() + lease, started_at = pg_catalog.clock_timestamp()
      FROM picked
     WHERE s.run_id = picked.run_id AND s.segment = picked.segment
    RETURNING s.run_id, s.segment, s.attempt
  ), started AS (
    -- A run locked by someone else is either being started by another
    -- worker or being killed; the heartbeat then finds the kill.
    UPDATE procgate_internal.runs r
       SET state = 'running', started_at = pg_catalog.clock_timestamp(), worker = p_worker,
           heartbeat_at = pg_catalog.clock_timestamp()
     WHERE r.run_id IN (
       SELECT q.run_id FROM procgate_internal.runs q
        WHERE q.run_id IN (SELECT c.run_id FROM claimed c) AND q.state = 'queued'
          FOR UPDATE SKIP LOCKED)
    RETURNING r.run_id
  )
  SELECT c.run_id, c.segment, c.attempt, r.segments_total, p.id, p.language, p.command, p.args,
         r.params, r.options,
         (pg_catalog.date_part('epoch', (r.options -> 'timeout' ->> 'value')::interval) * 1000)::bigint,
         coalesce((r.options -> 'max_output_lines' ->> 'value')::int, 100),
         r.submitted_by, coalesce(r.staged_inputs, '[]'), coalesce(r.resolved_outputs, '[]'), p.type_name,
         pg_catalog.concat_ws(':', p.id, p.xmin, e.xmin)
    FROM claimed c
    JOIN procgate_internal.runs r ON r.run_id = c.run_id
    JOIN procgate_internal.procedures p ON p.id = r.procedure_id
    LEFT JOIN procgate_internal.environments e ON e.name = p.options -> 'set_environment' ->> 'value'
   ORDER BY r.created_at, c.segment;
END
$fn$;

-- A batch for a worker with max_segments free slots and room for
-- max_queued more in its local queue, which it starts as slots free up.
-- Only segments of one-segment runs are queued ahead: the segments of a
-- distributed run go to engines with free slots, so they run side by side.
CREATE OR REPLACE FUNCTION procgate_internal.engine_claim(
  p_worker text, max_segments int, lease interval, languages text[], max_queued int DEFAULT 0
) RETURNS TABLE (
  run_id uuid, segment int, attempt int, segment_count int, procedure_id bigint, language text,
  command text, args text[], params jsonb, options jsonb, timeout_ms bigint, max_output_lines int,
  submitted_by name, staged_inputs jsonb, resolved_outputs jsonb, type_name text, setup_key text
)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF max_segments > 0 THEN
    RETURN QUERY SELECT * FROM procgate_internal.engine_claim_segments(p_worker, max_segments, lease, languages, false);
  END IF;
  IF max_queued > 0 THEN
    RETURN QUERY SELECT * FROM procgate_internal.engine_claim_segments(p_worker, max_queued, lease, languages, true);
  END IF;
END
$fn$;

-- Hands back claimed segments the worker never started (it is stopping):
-- queued again at the attempt they had, as if never claimed, and the
-- engines woken to take them. Fenced like a completion; returns how many.
CREATE OR REPLACE FUNCTION procgate_internal.engine_release(
  p_worker text, p_run_ids uuid[], p_segments int[], p_attempts int[]
) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  n int;
BEGIN
  WITH held AS (
    SELECT * FROM ROWS FROM (pg_catalog.unnest(p_run_ids), pg_catalog.unnest(p_segments), pg_catalog.unnest(p_attempts))
      AS h (run_id, segment, attempt)
  ), released AS (
    UPDATE procgate_internal.run_segments s
       SET state = 'queued', attempt = s.attempt - 1, worker = NULL, pid = NULL, lease_until = NULL, started_at = NULL
      FROM held h
     WHERE s.run_id = h.run_id AND s.segment = h.segment AND s.attempt = h.attempt
       AND s.worker = p_worker AND s.state = 'running'
    RETURNING 1)
  SELECT pg_catalog.count(*) INTO n FROM released;
  IF n > 0 THEN
    PERFORM pg_catalog.pg_notify('procgate_runs', '');
  END IF;
  RETURN n;
END
$fn$;

-- The procedure files of a claimed segment's run.
CREATE OR REPLACE FUNCTION procgate_internal.engine_files(p_procedure_id bigint)
RETURNS TABLE (path text, content bytea)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT f.path, f.content FROM procgate_internal.procedure_files f
   WHERE f.procedure_id = $1 ORDER BY f.path
$fn$;

-- Records the process id of a segment's child, fenced like a completion.
CREATE OR REPLACE FUNCTION procgate_internal.engine_set_pid(
  p_worker text, p_run_id uuid, p_segment int, p_attempt int, p_pid int
) RETURNS boolean
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
  WITH updated AS (
    UPDATE procgate_internal.run_segments s SET pid = $5
     WHERE s.run_id = $2 AND s.segment = $3 AND s.worker = $1 AND s.attempt = $4 AND s.state = 'running'
    RETURNING 1)
  SELECT EXISTS (SELECT FROM updated)
$fn$;

-- {"variables": {"NAME": "value"}, "path_prefix": ["/dir", ...]} of the
-- procedure's environment; NULL for a procedure without one (or no such procedure).
CREATE OR REPLACE FUNCTION procgate_internal.engine_environment(p_procedure_id bigint)
RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT jsonb_build_object('variables', e.variables, 'path_prefix', to_jsonb(e.path_prefix))
    FROM procgate_internal.procedures p
    JOIN procgate_internal.environments e ON e.name = p.options -> 'set_environment' ->> 'value'
   WHERE p.id = $1
$fn$;
