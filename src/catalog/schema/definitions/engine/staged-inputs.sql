-- Staged TABLE inputs: the staging tables in procgate_staging of runs
-- whose inputs could not be read straight from their sources (see
-- src/engine/direct-input.ts). runs.staged_inputs lists every input of a
-- planned run; only the staged ones have a "table".

-- Drops the staging tables of finished runs. A table still being read (a
-- killed segment's last COPY) is left for the next sweep.
CREATE OR REPLACE FUNCTION procgate_internal.engine_drop_staged() RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  run record;
  staged text;
  n int := 0;
BEGIN
  FOR run IN
    SELECT r.run_id, r.staged_inputs FROM procgate_internal.runs r
     WHERE r.staged_inputs IS NOT NULL AND r.state IN ('succeeded', 'failed', 'killed')
       FOR UPDATE SKIP LOCKED
  LOOP
    BEGIN
      SET LOCAL lock_timeout = '200ms';
      FOR staged IN
        SELECT i ->> 'table' FROM pg_catalog.jsonb_array_elements(run.staged_inputs) i WHERE i ->> 'table' IS NOT NULL
      LOOP
        EXECUTE pg_catalog.format('DROP TABLE IF EXISTS procgate_staging.%I', staged);
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
