-- Who may use what, applied after every other definition so that it covers
-- them all. Users reach procgate through the views and the procgate.*
-- functions; the storage and the engine's functions stay the owner's.

REVOKE ALL ON SCHEMA procgate_internal FROM PUBLIC;
GRANT USAGE ON SCHEMA procgate TO PUBLIC;
-- Staged TABLE inputs: each run's tables are the caller's own.
REVOKE ALL ON SCHEMA procgate_staging FROM PUBLIC;
GRANT USAGE ON SCHEMA procgate_staging TO PUBLIC;
-- Model functions: each is its owner's, who may GRANT EXECUTE on it.
REVOKE ALL ON SCHEMA procgate_models FROM PUBLIC;
GRANT USAGE ON SCHEMA procgate_models TO PUBLIC;

REVOKE ALL ON ALL TABLES IN SCHEMA procgate_internal FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA procgate_internal FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA procgate_internal FROM PUBLIC;
REVOKE ALL ON ALL PROCEDURES IN SCHEMA procgate_internal FROM PUBLIC;

-- The owner-rights entry points (api_*), cast_to and describe_inputs keep EXECUTE for PUBLIC
-- only because the procgate.* wrappers call them as the caller; without
-- USAGE on the schema no one can name them directly.
DO $grants$
DECLARE
  fn regprocedure;
BEGIN
  FOR fn IN
    SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
     WHERE p.pronamespace = 'procgate_internal'::regnamespace
       AND (pg_catalog.left(p.proname, 4) = 'api_' OR p.proname IN ('cast_to', 'describe_inputs'))
  LOOP
    EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO PUBLIC', fn);
  END LOOP;
END
$grants$;

REVOKE ALL ON procgate.procedures, procgate.runs, procgate.run_segments, procgate.run_output,
  procgate.environments, procgate.startup_runs, procgate.procedure_types, procgate.models,
  procgate.run_metrics, procgate.engines FROM PUBLIC;
GRANT SELECT ON procgate.procedures, procgate.runs, procgate.run_segments, procgate.run_output,
  procgate.environments, procgate.startup_runs, procgate.procedure_types, procgate.models,
  procgate.run_metrics, procgate.engines TO PUBLIC;
