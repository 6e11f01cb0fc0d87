
CREATE SCHEMA procgate_staging;
REVOKE ALL ON SCHEMA procgate_staging FROM PUBLIC;
-- A caller's run inserts into its own staging table (granted on that table
-- alone, for the planning transaction), which needs the schema's USAGE.
GRANT USAGE ON SCHEMA procgate_staging TO PUBLIC;
COMMENT ON SCHEMA procgate_staging IS 'procgate: the TABLE inputs of running runs, read once when they start';

ALTER TABLE procgate_internal.runs
  -- [{"name", "table", "partitioned", "blocks", "columns": [{"name", "type", "typeOid"}]}]
  ADD COLUMN staged_inputs jsonb,
  -- [{"name", "table", "columns": [...]}]: each INTO table, resolved and created as the caller.
  ADD COLUMN resolved_outputs jsonb,
  -- Whether the run has TABLE arguments or INTO tables: its engine stages them first.
  ADD COLUMN has_table_data boolean GENERATED ALWAYS AS (input_queries <> '[]' OR output_tables <> '{}') STORED;

-- Finding a data run to plan must not cost a scan of the whole queue.
CREATE INDEX runs_unplanned_data_idx ON procgate_internal.runs (created_at)
  WHERE state = 'queued' AND segments_total IS NULL AND has_table_data;

-- The runs the engine plans in TypeScript: those with table data, of a
-- distributed procedure or of a built-in type (whose TABLE parameters are
-- its input even in one segment; Kinetica's rule of ignoring them in
-- nondistributed mode is for programs).
CREATE FUNCTION procgate_internal.engine_has_table_data(run procgate_internal.runs, mode text, language text)
RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT ($2 = 'distributed' OR $3 = 'type') AND ($1).has_table_data
$fn$;

-- Gives a run with table data its segments once its inputs are staged.
CREATE FUNCTION procgate_internal.engine_plan_data_run(
  p_run_id uuid, p_segments int, p_staged jsonb, p_outputs jsonb
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  INSERT INTO procgate_internal.run_segments (run_id, segment)
  SELECT p_run_id, g FROM pg_catalog.generate_series(0, p_segments - 1) g;
  UPDATE procgate_internal.runs r
     SET segments_total = p_segments, staged_inputs = p_staged, resolved_outputs = p_outputs
   WHERE r.run_id = p_run_id;
  PERFORM pg_catalog.pg_notify('procgate_runs', p_run_id::text);
END
$fn$;

-- A run whose inputs or outputs could not be prepared fails before any segment.
CREATE FUNCTION procgate_internal.engine_fail_planning(p_run_id uuid, p_error text) RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
  UPDATE procgate_internal.runs r
     SET state = 'failed', error = $2, segments_total = 0, finished_at = pg_catalog.clock_timestamp()
   WHERE r.run_id = $1 AND r.state = 'queued' AND r.segments_total IS NULL
$fn$;

-- Live figures of a running segment, fenced like a completion; the run's
-- progress, rows_in and results follow. A NULL leaves a figure as it is;
-- results are merged key by key.
CREATE FUNCTION procgate_internal.engine_report(
  p_worker text, p_run_id uuid, p_segment int, p_attempt int, p_progress numeric, p_rows_in bigint,
  p_message text, p_results jsonb DEFAULT NULL
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
         message = coalesce(p_message, s.message),
         results = CASE WHEN p_results IS NULL THEN s.results ELSE coalesce(s.results, '{}') || p_results END
   WHERE s.run_id = p_run_id AND s.segment = p_segment AND s.worker = p_worker AND s.attempt = p_attempt
     AND s.state = 'running';
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  UPDATE procgate_internal.runs r
     SET progress = (SELECT pg_catalog.trim_scale(pg_catalog.round(pg_catalog.avg(
                       CASE WHEN s.state IN ('succeeded', 'failed', 'killed') THEN 1 ELSE s.progress END), 4))
                       FROM procgate_internal.run_segments s WHERE s.run_id = p_run_id),
         rows_in = (SELECT pg_catalog.sum(s.rows_in) FROM procgate_internal.run_segments s WHERE s.run_id = p_run_id),
         results = CASE WHEN p_results IS NULL THEN r.results ELSE
                     (SELECT pg_catalog.jsonb_object_agg(s.segment::text, s.results)
                        FROM procgate_internal.run_segments s
                       WHERE s.run_id = p_run_id AND s.results IS NOT NULL) END
   WHERE r.run_id = p_run_id;
  RETURN true;
END
$fn$;

-- Drops the staging tables of finished runs. A table still being read (a
-- killed segment's last COPY) is left for the next sweep.
CREATE FUNCTION procgate_internal.engine_drop_staged() RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  run record;
  staged jsonb;
  n int := 0;
BEGIN
  FOR run IN
    SELECT r.run_id, r.staged_inputs FROM procgate_internal.runs r
     WHERE r.staged_inputs IS NOT NULL AND r.state IN ('succeeded', 'failed', 'killed')
       FOR UPDATE SKIP LOCKED
  LOOP
    BEGIN
      SET LOCAL lock_timeout = '200ms';
      FOR staged IN SELECT pg_catalog.jsonb_array_elements(run.staged_inputs) LOOP
        EXECUTE pg_catalog.format('DROP TABLE IF EXISTS procgate_staging.%I', staged ->> 'table');
      END LOOP;
      UPDATE procgate_internal.runs r SET staged_inputs = NULL WHERE r.run_id = run.run_id;
      n := n + 1;
    EXCEPTION WHEN lock_not_available THEN
      NULL;
    END;
  END LOOP;
  RETURN n;
END
$fn$;


-- How many segments a run without table data gets: one if nondistributed,
-- else its "segments" option (default 1). Runs with table data are planned
-- by the engine (run-planner.ts), which stages their inputs first.
CREATE FUNCTION procgate_internal.engine_segment_count(run procgate_internal.runs, mode text)
RETURNS int
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT CASE
    WHEN $2 = 'nondistributed' THEN 1
    ELSE coalesce((($1).options -> 'segments' ->> 'value')::int, 1)
  END
$fn$;

-- Gives unplanned queued runs without table data their segments. A run
-- whose procedure is gone cannot run: it fails at once.
CREATE FUNCTION procgate_internal.engine_plan_runs(max_runs int)
RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  run procgate_internal.runs;
  mode text;
  n int;
  planned int := 0;
BEGIN
  FOR run IN
    SELECT * FROM procgate_internal.runs r
     WHERE r.state = 'queued' AND r.segments_total IS NULL
       AND NOT EXISTS (SELECT FROM procgate_internal.procedures p
                        WHERE p.id = r.procedure_id AND procgate_internal.engine_has_table_data(r, p.execution_mode, p.language))
     ORDER BY r.created_at
     LIMIT max_runs
       FOR UPDATE SKIP LOCKED
  LOOP
    SELECT p.execution_mode INTO mode FROM procgate_internal.procedures p WHERE p.id = run.procedure_id;
    IF mode IS NULL THEN
      UPDATE procgate_internal.runs r
         SET state = 'failed', error = pg_catalog.format('procedure "%s" no longer exists', run.procedure),
             segments_total = 0, finished_at = pg_catalog.clock_timestamp()
       WHERE r.run_id = run.run_id;
      CONTINUE;
    END IF;
    n := procgate_internal.engine_segment_count(run, mode);
    INSERT INTO procgate_internal.run_segments (run_id, segment)
    SELECT run.run_id, g FROM pg_catalog.generate_series(0, n - 1) g;
    UPDATE procgate_internal.runs r SET segments_total = n WHERE r.run_id = run.run_id;
    -- Other engines could not see these segments while we planned them: wake them when this commits.
    IF n > 1 THEN
      PERFORM pg_catalog.pg_notify('procgate_runs', run.run_id::text);
    END IF;
    planned := planned + 1;
  END LOOP;
  RETURN planned;
END
$fn$;

-- Claims up to max_segments queued segments of procedures in the given
-- languages (the executors the worker has) for worker, leased for lease.
CREATE FUNCTION procgate_internal.engine_claim(
  p_worker text, max_segments int, lease interval, languages text[]
) RETURNS TABLE (
  run_id uuid, segment int, attempt int, segment_count int, procedure_id bigint, language text,
  command text, args text[], params jsonb, options jsonb, timeout_ms bigint, max_output_lines int,
  submitted_by name, staged_inputs jsonb, resolved_outputs jsonb, type_name text
)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  PERFORM procgate_internal.engine_plan_runs(greatest(max_segments, 1));
  RETURN QUERY
  WITH queue AS (
    -- The head of the queue: enough to fill the free slots even if many
    -- are capped or locked by other engines, without reading a long backlog.
    SELECT s.run_id, s.segment, r.created_at, p.id AS procedure_id,
           coalesce((p.options -> 'max_concurrency_per_node' ->> 'value')::int, 0) AS cap
      FROM procgate_internal.run_segments s
      JOIN procgate_internal.runs r ON r.run_id = s.run_id
      JOIN procgate_internal.procedures p ON p.id = r.procedure_id
     WHERE s.state = 'queued' AND r.state IN ('queued', 'running') AND p.language = ANY (languages)
     ORDER BY r.created_at, s.segment
     LIMIT greatest(max_segments, 1) * 64
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
         r.submitted_by, coalesce(r.staged_inputs, '[]'), coalesce(r.resolved_outputs, '[]'), p.type_name
    FROM claimed c
    JOIN procgate_internal.runs r ON r.run_id = c.run_id
    JOIN procgate_internal.procedures p ON p.id = r.procedure_id
   ORDER BY r.created_at, c.segment;
END
$fn$;

-- The procedure files of a claimed segment's run.
CREATE FUNCTION procgate_internal.engine_files(p_procedure_id bigint)
RETURNS TABLE (path text, content bytea)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT f.path, f.content FROM procgate_internal.procedure_files f
   WHERE f.procedure_id = $1 ORDER BY f.path
$fn$;

-- Records the process id of a segment's child, fenced like a completion.
CREATE FUNCTION procgate_internal.engine_set_pid(
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


CREATE PROCEDURE procgate.call_and_wait(
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


-- Queues a run of each registration, as its run_as role, with its tag,
-- parameters, inputs, outputs and options (without execute_at_startup*),
-- and notifies procgate_runs at commit. What changed since the
-- registration is checked again: a role that may no longer execute the
-- procedure, or a CREATE OR REPLACE whose parameters no longer fit, gives
-- a run failed at once with the reason, for the submitter to see.
-- Returns the ids of the runs made.
CREATE FUNCTION procgate_internal.engine_startup(p_worker text)
RETURNS SETOF uuid
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  item record;
  reg procgate_internal.startup_runs;
  proc procgate_internal.procedures;
  params jsonb;
  failure text;
  queued_options jsonb;
  run procgate_internal.runs;
BEGIN
  FOR item IN
    -- KEY SHARE: a concurrent DROP PROCEDURE waits, or its procedure is skipped.
    SELECT s AS reg, p AS proc
      FROM procgate_internal.startup_runs s
      JOIN procgate_internal.procedures p ON p.id = s.procedure_id
     ORDER BY s.id
       FOR KEY SHARE OF p
  LOOP
    reg := item.reg;
    proc := item.proc;
    failure := NULL;
    BEGIN
      IF NOT procgate_internal.has_role(reg.submitted_by, reg.run_as, 'MEMBER') THEN
        RAISE EXCEPTION 'role "%" may no longer execute as role "%"', reg.submitted_by, reg.run_as
          USING ERRCODE = 'insufficient_privilege';
      END IF;
      PERFORM procgate_internal.check_may_execute(reg.run_as, proc);
      params := procgate_internal.complete_params(proc, reg.params, reg.input_queries);
    EXCEPTION WHEN insufficient_privilege OR invalid_parameter_value THEN
      failure := SQLERRM;
    END;
    queued_options := reg.options - 'execute_at_startup' - 'execute_at_startup_as';
    IF failure IS NULL THEN
      run := procgate_internal.queue_run(
        proc, reg.run_as, reg.run_tag, params, reg.input_queries, reg.output_tables, queued_options);
    ELSE
      INSERT INTO procgate_internal.runs AS r
             (procedure_id, procedure, state, run_tag, params, input_queries, output_tables, options,
              submitted_by, segments_total, finished_at, error, worker)
      VALUES (proc.id, proc.name, 'failed', reg.run_tag, reg.params, reg.input_queries, reg.output_tables,
              queued_options, reg.run_as, 0, pg_catalog.clock_timestamp(),
              pg_catalog.format('startup run %s could not start: %s', reg.id, failure), p_worker)
      RETURNING r.* INTO run;
    END IF;
    RETURN NEXT run.run_id;
  END LOOP;
END
$fn$;


-- {"variables": {"NAME": "value"}, "path_prefix": ["/dir", ...]} of the
-- procedure's environment; NULL for a procedure without one (or no such procedure).
CREATE FUNCTION procgate_internal.engine_environment(p_procedure_id bigint)
RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT jsonb_build_object('variables', e.variables, 'path_prefix', to_jsonb(e.path_prefix))
    FROM procgate_internal.procedures p
    JOIN procgate_internal.environments e ON e.name = p.options -> 'set_environment' ->> 'value'
   WHERE p.id = $1
$fn$;


CREATE TABLE procgate_internal.models (
  name text PRIMARY KEY,
  type text NOT NULL CHECK (type IN ('classifier', 'kmeans', 'regression')),
  algorithm text NOT NULL,
  feature_names text[] NOT NULL,
  feature_types text[] NOT NULL,
  -- NULL for kmeans (its label_values are the cluster numbers).
  label_column text,
  label_values text[] NOT NULL,
  hyperparameters jsonb NOT NULL DEFAULT '{}',
  metrics jsonb NOT NULL DEFAULT '{}',
  model jsonb NOT NULL,
  -- The generated SQL function (procgate_models.<name>), NULL when the algorithm has none.
  sql_function text,
  owner text NOT NULL,
  created_by_run uuid REFERENCES procgate_internal.runs (run_id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);

-- Per-step metrics written while a run trains (step: a tree, an iteration, an epoch).
-- Keyed by (run, step, metric): a retried attempt writes the same keys again.
CREATE TABLE procgate_internal.run_metrics (
  run_id uuid NOT NULL REFERENCES procgate_internal.runs (run_id) ON DELETE CASCADE,
  step int NOT NULL,
  metric text NOT NULL,
  value double precision,
  at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  PRIMARY KEY (run_id, step, metric)
);
REVOKE ALL ON procgate_internal.models, procgate_internal.run_metrics FROM PUBLIC;

CREATE VIEW procgate.models WITH (security_barrier) AS
SELECT
  m.name,
  m.type,
  m.algorithm,
  m.feature_names,
  m.feature_types,
  m.label_column,
  m.label_values,
  m.hyperparameters,
  m.metrics,
  m.model,
  m.sql_function,
  m.owner,
  m.created_by_run,
  m.created_at
FROM procgate_internal.models m
WHERE (m.owner = current_user OR pg_catalog.pg_has_role(current_user, 'procgate_admin', 'MEMBER'));

CREATE VIEW procgate.run_metrics WITH (security_barrier) AS
SELECT mt.run_id, mt.step, mt.metric, mt.value, mt.at
FROM procgate_internal.run_metrics mt
JOIN procgate_internal.runs r ON r.run_id = mt.run_id
WHERE (r.submitted_by = current_user OR pg_catalog.pg_has_role(current_user, 'procgate_admin', 'MEMBER'));

COMMENT ON VIEW procgate.models IS 'procgate: trained models you own (every model for procgate_admin)';
COMMENT ON VIEW procgate.run_metrics IS 'procgate: per-step training metrics of visible runs';

CREATE TRIGGER read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON procgate.models
  FOR EACH ROW EXECUTE FUNCTION procgate_internal.reject_view_write();
CREATE TRIGGER read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON procgate.run_metrics
  FOR EACH ROW EXECUTE FUNCTION procgate_internal.reject_view_write();

REVOKE ALL ON procgate.models, procgate.run_metrics FROM PUBLIC;
GRANT SELECT ON procgate.models, procgate.run_metrics TO PUBLIC;

-- Each model's prediction function, owned by the model's owner (who may GRANT EXECUTE on it).
CREATE SCHEMA procgate_models;
REVOKE ALL ON SCHEMA procgate_models FROM PUBLIC;
GRANT USAGE ON SCHEMA procgate_models TO PUBLIC;
COMMENT ON SCHEMA procgate_models IS 'procgate: trained models as SQL functions, one per model, named after it';


DO $revoke$
DECLARE
  fn regprocedure;
BEGIN
  FOR fn IN
    SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
     WHERE p.pronamespace = 'procgate_internal'::regnamespace AND pg_catalog.left(p.proname, 7) = 'engine_'
  LOOP
    EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn);
  END LOOP;
END
$revoke$;
