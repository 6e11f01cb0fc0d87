-- Runs whose TABLE inputs segments read straight from their sources under
-- a snapshot the planning engine holds (src/engine/direct-input.ts). A
-- snapshot dies with the engine's session, so such a run's segments are
-- all claimed by the engine that plans it, in the planning transaction:
-- no other engine ever starts one, and if the planning engine dies, all of
-- them are lost with it, as any segments of a lost engine are.

-- Claims every queued segment of a run this transaction has just planned
-- (engine_plan_data_run) for p_worker, leased for lease; returns them as
-- engine_claim does.
CREATE OR REPLACE FUNCTION procgate_internal.engine_claim_planned(p_worker text, p_run_id uuid, lease interval)
RETURNS TABLE (
  run_id uuid, segment int, attempt int, segment_count int, procedure_id bigint, language text,
  command text, args text[], params jsonb, options jsonb, timeout_ms bigint, max_output_lines int,
  submitted_by name, staged_inputs jsonb, resolved_outputs jsonb, type_name text, setup_key text
)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  UPDATE procgate_internal.runs r
     SET state = 'running', started_at = pg_catalog.clock_timestamp(), worker = p_worker,
         heartbeat_at = pg_catalog.clock_timestamp()
   WHERE r.run_id = p_run_id AND r.state = 'queued';
  RETURN QUERY
  WITH claimed AS (
    UPDATE procgate_internal.run_segments s
       SET state = 'running', attempt = s.attempt + 1, worker = p_worker, pid = NULL,
           lease_until = pg_catalog.clock_timestamp() + lease, started_at = pg_catalog.clock_timestamp()
     WHERE s.run_id = p_run_id AND s.state = 'queued'
    RETURNING s.run_id, s.segment, s.attempt
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
   ORDER BY c.segment;
END
$fn$;
