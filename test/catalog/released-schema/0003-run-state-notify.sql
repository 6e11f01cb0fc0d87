
CREATE FUNCTION procgate_internal.notify_run_state() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  PERFORM pg_catalog.pg_notify('procgate_run_state',
    pg_catalog.json_build_object('run_id', NEW.run_id, 'state', NEW.state)::text);
  RETURN NULL;
END
$fn$;
REVOKE ALL ON FUNCTION procgate_internal.notify_run_state() FROM PUBLIC;

CREATE TRIGGER run_state_inserted AFTER INSERT ON procgate_internal.runs
  FOR EACH ROW EXECUTE FUNCTION procgate_internal.notify_run_state();
CREATE TRIGGER run_state_changed AFTER UPDATE OF state ON procgate_internal.runs
  FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
  EXECUTE FUNCTION procgate_internal.notify_run_state();
