/**
 * Table data of distributed runs. When a run with TABLE arguments or INTO
 * tables starts, the engine (src/engine/run-planner.ts) reads every input
 * once, as the caller, into a staging table in procgate_staging: one
 * statement per input, so all segments see that statement's snapshot, and
 * a retried segment sees the same rows again. The staging tables go when
 * the run has finished (the sweeper drops them).
 */
export const tableData = `
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
`;
