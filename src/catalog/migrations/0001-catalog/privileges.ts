/**
 * Users read the procgate views and call the procgate functions; nothing
 * in procgate_internal is theirs. The owner-rights entry points and cast_to
 * keep EXECUTE for PUBLIC only because the procgate wrappers call them as
 * the caller; without USAGE on the schema no one can name them directly.
 */
export const privileges = `
REVOKE ALL ON ALL TABLES IN SCHEMA procgate_internal FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA procgate_internal FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA procgate_internal FROM PUBLIC;

DO $grants$
DECLARE
  fn regprocedure;
BEGIN
  FOR fn IN
    SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
     WHERE p.pronamespace = 'procgate_internal'::regnamespace
       AND (pg_catalog.left(p.proname, 4) = 'api_' OR p.proname = 'cast_to')
  LOOP
    EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO PUBLIC', fn);
  END LOOP;
END
$grants$;

REVOKE ALL ON procgate.procedures, procgate.runs, procgate.run_segments, procgate.run_output,
  procgate.environments, procgate.startup_runs FROM PUBLIC;
GRANT SELECT ON procgate.procedures, procgate.runs, procgate.run_segments, procgate.run_output,
  procgate.environments, procgate.startup_runs TO PUBLIC;
`;
