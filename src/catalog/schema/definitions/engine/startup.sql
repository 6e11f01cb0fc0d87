-- Startup runs (api/startup-runs.sql): an engine, when it starts, queues one
-- run of every registration. With several engines each start queues its own,
-- as "when the database is started" means here.

-- Queues a run of each registration, as its run_as role, with its tag,
-- parameters, inputs, outputs and options (without execute_at_startup*),
-- and notifies procgate_runs at commit. What changed since the
-- registration is checked again: a role that may no longer execute the
-- procedure, or a CREATE OR REPLACE whose parameters no longer fit, gives
-- a run failed at once with the reason, for the submitter to see.
-- Returns the ids of the runs made.
CREATE OR REPLACE FUNCTION procgate_internal.engine_startup(p_worker text)
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
