-- Planning: a queued run becomes segments. A run with TABLE arguments or
-- INTO tables is planned by the engine (src/engine), which stages its
-- inputs as the caller first; the rest are planned here in one statement.
-- Only the engine calls these functions (as the schema owner).

-- The runs the engine plans in TypeScript: those with table data, of a
-- distributed procedure or of a built-in type (whose TABLE parameters are
-- its input even in one segment; Kinetica's rule of ignoring them in
-- nondistributed mode is for programs).
CREATE OR REPLACE FUNCTION procgate_internal.engine_has_table_data(run procgate_internal.runs, mode text, language text)
RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT ($2 = 'distributed' OR $3 = 'type') AND ($1).has_table_data
$fn$;

-- How many segments a run gets when EXECUTE queues it, as
-- engine_has_table_data and engine_segment_count would say of the run;
-- NULL for a run the engine plans (it has table data). One expression of
-- qualified operators, without a SET clause, so it is inlined into
-- queue_run's kept plan rather than planned on every EXECUTE.
CREATE OR REPLACE FUNCTION procgate_internal.engine_segments_at_execute(
  proc procgate_internal.procedures, inputs jsonb, output_tables text[], options jsonb
) RETURNS int
LANGUAGE sql IMMUTABLE
AS $fn$
  SELECT CASE
    WHEN (($1).execution_mode OPERATOR(pg_catalog.=) 'distributed' OR ($1).language OPERATOR(pg_catalog.=) 'type')
         AND (coalesce($2, '[]') OPERATOR(pg_catalog.<>) '[]' OR coalesce($3, '{}') OPERATOR(pg_catalog.<>) '{}')
      THEN NULL
    WHEN ($1).execution_mode OPERATOR(pg_catalog.=) 'nondistributed' THEN 1
    ELSE coalesce((($4 OPERATOR(pg_catalog.->) 'segments') OPERATOR(pg_catalog.->>) 'value')::int, 1)
  END
$fn$;

-- Gives a run with table data its segments once its inputs are staged.
CREATE OR REPLACE FUNCTION procgate_internal.engine_plan_data_run(
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

-- How many segments a run without table data gets: one if nondistributed,
-- else its "segments" option (default 1). Runs with table data are planned
-- by the engine (run-planner.ts), which stages their inputs first.
CREATE OR REPLACE FUNCTION procgate_internal.engine_segment_count(run procgate_internal.runs, mode text)
RETURNS int
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT CASE
    WHEN $2 = 'nondistributed' THEN 1
    ELSE coalesce((($1).options -> 'segments' ->> 'value')::int, 1)
  END
$fn$;

-- Gives unplanned queued runs without table data their segments: those
-- queued before EXECUTE planned them (schema version 14). A run whose
-- procedure is gone cannot run: it fails at once. The engine's sweep calls it.
CREATE OR REPLACE FUNCTION procgate_internal.engine_plan_runs(max_runs int)
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

CREATE OR REPLACE FUNCTION procgate_internal.engine_fail_planning(p_run_id uuid, p_error text, p_error_code text)
RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
  UPDATE procgate_internal.runs r
     SET state = 'failed', error = $2, error_code = $3, segments_total = 0, finished_at = pg_catalog.clock_timestamp()
   WHERE r.run_id = $1 AND r.state = 'queued' AND r.segments_total IS NULL
$fn$;
