-- The relations users read. They are owned by the migrating role, so they
-- read the storage tables with its privileges, and they filter rows on the
-- reader's current_user: security_barrier keeps a reader's own (possibly
-- leaky) conditions from being evaluated before that filter. This works on
-- PostgreSQL 14, which has no security_invoker views.

CREATE OR REPLACE VIEW procgate.procedures WITH (security_barrier) AS
SELECT
  p.name,
  p.type_name AS type,
  p.language,
  p.command,
  p.args,
  p.execution_mode,
  COALESCE(
    (SELECT pg_catalog.jsonb_agg(
              pg_catalog.jsonb_build_object('path', f.path, 'size', pg_catalog.octet_length(f.content))
              ORDER BY f.path)
       FROM procgate_internal.procedure_files f
      WHERE f.procedure_id = p.id),
    '[]'::jsonb) AS files,
  p.parameters,
  p.options,
  p.owner,
  p.created_at
FROM procgate_internal.procedures p;

CREATE OR REPLACE VIEW procgate.runs WITH (security_barrier) AS
SELECT
  r.run_id,
  r.procedure,
  r.state,
  r.run_tag,
  r.params,
  r.input_queries,
  r.output_tables,
  r.options,
  r.submitted_by,
  r.created_at,
  r.started_at,
  r.finished_at,
  COALESCE(r.finished_at, pg_catalog.now()) - r.started_at AS duration,
  r.progress,
  r.segments_total,
  r.segments_succeeded,
  r.segments_failed,
  r.rows_in,
  r.rows_out,
  r.error,
  r.results,
  r.worker,
  r.heartbeat_at
FROM procgate_internal.runs r
WHERE (r.submitted_by = current_user OR pg_catalog.pg_has_role(current_user, 'procgate_admin', 'MEMBER'));

CREATE OR REPLACE VIEW procgate.run_segments WITH (security_barrier) AS
SELECT
  s.run_id,
  s.segment,
  s.state,
  s.worker,
  s.pid,
  s.attempt,
  s.started_at,
  s.finished_at,
  s.exit_code,
  s.rows_in,
  s.rows_out,
  s.progress,
  s.message,
  s.results
FROM procgate_internal.run_segments s
JOIN procgate_internal.runs r ON r.run_id = s.run_id
WHERE (r.submitted_by = current_user OR pg_catalog.pg_has_role(current_user, 'procgate_admin', 'MEMBER'));

CREATE OR REPLACE VIEW procgate.run_output WITH (security_barrier) AS
SELECT o.run_id, o.segment, o.stream, o.line_no, o.line, o.at
FROM procgate_internal.run_output o
JOIN procgate_internal.runs r ON r.run_id = o.run_id
WHERE (r.submitted_by = current_user OR pg_catalog.pg_has_role(current_user, 'procgate_admin', 'MEMBER'));

CREATE OR REPLACE VIEW procgate.engines AS
SELECT
  e.worker,
  e.host,
  e.pid,
  e.slots,
  e.isolation,
  e.started_at,
  e.heartbeat_at,
  e.heartbeat_at + e.lease > pg_catalog.clock_timestamp() AS live
FROM procgate_internal.engines e;

COMMENT ON VIEW procgate.procedures IS 'procgate: one row per procedure';

COMMENT ON VIEW procgate.runs IS 'procgate: one row per run you submitted (every run for procgate_admin)';

COMMENT ON VIEW procgate.run_segments IS 'procgate: one row per data segment of a visible run';

COMMENT ON VIEW procgate.run_output IS 'procgate: captured stdout and stderr lines of visible runs';

COMMENT ON VIEW procgate.engines IS 'procgate: one row per engine, with how it isolates users'' code (uid, trusted or none)';

-- Simple views are auto-updatable; a write by a role holding privileges on
-- them (a superuser) must still fail, and with 42501 like everyone else's.
CREATE OR REPLACE FUNCTION procgate_internal.reject_view_write() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  RAISE EXCEPTION 'procgate.% is read-only', TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'Procedures and runs change through CREATE, EXECUTE, KILL and DROP PROCEDURE (or the procgate functions).';
END
$fn$;

CREATE OR REPLACE TRIGGER read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON procgate.procedures
  FOR EACH ROW EXECUTE FUNCTION procgate_internal.reject_view_write();

CREATE OR REPLACE TRIGGER read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON procgate.runs
  FOR EACH ROW EXECUTE FUNCTION procgate_internal.reject_view_write();

CREATE OR REPLACE TRIGGER read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON procgate.run_segments
  FOR EACH ROW EXECUTE FUNCTION procgate_internal.reject_view_write();

CREATE OR REPLACE TRIGGER read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON procgate.run_output
  FOR EACH ROW EXECUTE FUNCTION procgate_internal.reject_view_write();

CREATE OR REPLACE TRIGGER read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON procgate.engines
  FOR EACH ROW EXECUTE FUNCTION procgate_internal.reject_view_write();
