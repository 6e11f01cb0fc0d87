-- EXECUTE PROCEDURE (and CALL, which waits for the run: call-and-wait.sql).
-- api_plan_args maps the arguments onto parameters and says which values to
-- convert; the wrapper procgate.execute converts them as the caller
-- (cast_to); api_execute merges defaults, checks options and queues the run,
-- or, with execute_at_startup, registers it for engine starts.

-- Inserts a queued run of checked values. A run without table data gets
-- its segments here, in the same transaction, so engines claim them
-- without planning anything (engine_segments_at_execute); the engine plans
-- the others once it has staged their inputs. The notification is
-- delivered at commit, so a rolled-back EXECUTE wakes no engine and leaves
-- no run.
CREATE OR REPLACE FUNCTION procgate_internal.queue_run(
  proc procgate_internal.procedures, submitter name, tag text, params jsonb, inputs jsonb,
  output_tables text[], options jsonb
) RETURNS procgate_internal.runs
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  run procgate_internal.runs;
  segments int;
BEGIN
  -- Only a TYPE procedure has anything to check (saves a call per EXECUTE).
  IF proc.language = 'type' THEN
    PERFORM procgate_internal.check_type_invocation(proc, params, inputs);
  END IF;
  segments := procgate_internal.engine_segments_at_execute(proc, inputs, output_tables, options);
  INSERT INTO procgate_internal.runs AS r
         (procedure_id, procedure, run_tag, params, input_queries, output_tables, options, submitted_by, segments_total)
  VALUES (proc.id, proc.name, tag, params, inputs, coalesce(output_tables, '{}'), options, submitter, segments)
  RETURNING r.* INTO run;
  IF segments IS NOT NULL THEN
    INSERT INTO procgate_internal.run_segments (run_id, segment)
    SELECT run.run_id, g FROM pg_catalog.generate_series(0, segments - 1) g;
  END IF;
  PERFORM pg_notify('procgate_runs', run.run_id::text);
  RETURN run;
END
$fn$;

-- Checks an invocation and queues its run.
CREATE OR REPLACE FUNCTION procgate_internal.start_run(
  proc procgate_internal.procedures, caller name, given jsonb, tables procgate.table_value[],
  output_tables text[], options jsonb
) RETURNS procgate_internal.runs
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  inputs jsonb := procgate_internal.resolve_tables(proc, tables);
BEGIN
  PERFORM procgate_internal.check_output_tables(proc, output_tables);
  RETURN procgate_internal.queue_run(
    proc, caller, options -> 'run_tag' ->> 'value', procgate_internal.complete_params(proc, given, inputs),
    inputs, output_tables, options);
END
$fn$;

-- p_described: the columns of the TABLE inputs the type checks, as the caller
-- sees them (describe_inputs in the wrapper); NULL checks no columns.
CREATE OR REPLACE FUNCTION procgate_internal.api_execute(
  caller name, p_name text, p_params jsonb, p_tables procgate.table_value[], p_into text[],
  p_options procgate.arg_value[], p_described jsonb DEFAULT NULL
) RETURNS TABLE (run_id uuid, procedure text, state text, run_tag text, created_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  proc procgate_internal.procedures;
  options jsonb;
  inputs jsonb;
  registered procgate_internal.startup_runs;
  run procgate_internal.runs;
BEGIN
  PERFORM procgate_internal.check_caller(caller);
  proc := procgate_internal.find_procedure(p_name);
  PERFORM procgate_internal.check_may_execute(caller, proc);
  options := procgate_internal.run_options(caller, p_options);
  -- What a built-in type can tell of its arguments now fails the EXECUTE, not the run.
  IF proc.language = 'type' THEN
    inputs := procgate_internal.resolve_tables(proc, p_tables);
    PERFORM procgate_internal.check_type_inputs(
      proc, caller, procgate_internal.complete_params(proc, p_params, inputs), inputs, p_described);
  END IF;
  -- No run now: the invocation is kept, and each engine start queues a run of it.
  -- The usual row tells psql so: no run id yet, state 'at startup'.
  IF coalesce((options -> 'execute_at_startup' ->> 'value')::boolean, false) THEN
    registered := procgate_internal.register_startup_run(proc, caller, p_params, p_tables, p_into, options);
    run_id := NULL;
    procedure := proc.name;
    state := 'at startup';
    run_tag := registered.run_tag;
    created_at := registered.created_at;
    RETURN NEXT;
    RETURN;
  END IF;
  run := procgate_internal.start_run(proc, caller, p_params, p_tables, p_into, options);
  run_id := run.run_id;
  procedure := run.procedure;
  state := run.state;
  run_tag := run.run_tag;
  created_at := run.created_at;
  RETURN NEXT;
END
$fn$;

-- Without arguments, nothing is converted (api_plan_args is not called);
-- without TABLE arguments, nothing is described: an EXECUTE of neither is
-- api_execute alone, which checks the caller and the privilege once.
CREATE OR REPLACE FUNCTION procgate.execute(
  name text, args procgate.arg_value[] DEFAULT NULL, tables procgate.table_value[] DEFAULT NULL,
  "into" text[] DEFAULT NULL, options procgate.arg_value[] DEFAULT NULL
) RETURNS TABLE (run_id uuid, procedure text, state text, run_tag text, created_at timestamptz)
LANGUAGE sql
BEGIN ATOMIC
  SELECT e.run_id, e.procedure, e.state, e.run_tag, e.created_at
    FROM procgate_internal.api_execute(
      current_user, execute.name,
      CASE WHEN coalesce(pg_catalog.cardinality(execute.args), 0) = 0 THEN '{}'::jsonb
      ELSE (SELECT coalesce(pg_catalog.jsonb_object_agg(
                     a.param, procgate_internal.cast_to(a.value, a.source, a.target, a.what)), '{}'::jsonb)
              FROM procgate_internal.api_plan_args(current_user, execute.name, execute.args, execute.tables) a) END,
      execute.tables, execute."into", execute.options,
      CASE WHEN coalesce(pg_catalog.cardinality(execute.tables), 0) = 0 THEN '{}'::jsonb
      ELSE procgate_internal.describe_inputs(
             procgate_internal.api_plan_inputs(current_user, execute.name, execute.tables)) END) e;
END;

COMMENT ON FUNCTION procgate.execute(text, procgate.arg_value[], procgate.table_value[], text[], procgate.arg_value[])
  IS 'EXECUTE PROCEDURE: queues a run and returns it';
