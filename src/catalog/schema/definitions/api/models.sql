-- Trained models and per-step training metrics, as users read them
-- (owner-only unless procgate_admin), and procgate.drop_model(name), which
-- removes a model and its SQL function from procgate_models. A model that
-- does not exist, or that the caller may not see, is 42704; if_exists turns
-- that into no row.

CREATE OR REPLACE VIEW procgate.models WITH (security_barrier) AS
SELECT
  m.name,
  m.type,
  m.algorithm,
  m.feature_names,
  m.feature_types,
  m.label_column,
  m.label_values,
  m.hyperparameters,
  m.metrics,
  m.model,
  m.sql_function,
  m.owner,
  m.created_by_run,
  m.created_at
FROM procgate_internal.models m
WHERE (m.owner = current_user OR pg_catalog.pg_has_role(current_user, 'procgate_admin', 'MEMBER'));

CREATE OR REPLACE VIEW procgate.run_metrics WITH (security_barrier) AS
SELECT mt.run_id, mt.step, mt.metric, mt.value, mt.at
FROM procgate_internal.run_metrics mt
JOIN procgate_internal.runs r ON r.run_id = mt.run_id
WHERE (r.submitted_by = current_user OR pg_catalog.pg_has_role(current_user, 'procgate_admin', 'MEMBER'));

COMMENT ON VIEW procgate.models IS 'procgate: trained models you own (every model for procgate_admin)';

COMMENT ON VIEW procgate.run_metrics IS 'procgate: per-step training metrics of visible runs';

CREATE OR REPLACE TRIGGER read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON procgate.models
  FOR EACH ROW EXECUTE FUNCTION procgate_internal.reject_view_write();

CREATE OR REPLACE TRIGGER read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON procgate.run_metrics
  FOR EACH ROW EXECUTE FUNCTION procgate_internal.reject_view_write();

CREATE OR REPLACE FUNCTION procgate_internal.api_drop_model(caller name, p_name text, p_if_exists boolean)
RETURNS TABLE (model text, sql_function text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  existing procgate_internal.models;
  fn regprocedure;
BEGIN
  PERFORM procgate_internal.check_caller(caller);
  SELECT * INTO existing FROM procgate_internal.models m WHERE m.name = p_name FOR UPDATE;
  IF NOT FOUND OR (existing.owner <> caller AND NOT procgate_internal.is_admin(caller)) THEN
    IF p_if_exists THEN
      RAISE NOTICE 'model "%" does not exist, skipping', p_name;
      RETURN;
    END IF;
    RAISE EXCEPTION 'model "%" does not exist', p_name
      USING ERRCODE = 'undefined_object', HINT = 'procgate.models lists the models you can see.';
  END IF;
  DELETE FROM procgate_internal.models m WHERE m.name = p_name;
  FOR fn IN
    SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
     WHERE p.pronamespace = 'procgate_models'::regnamespace AND p.proname = p_name
  LOOP
    EXECUTE pg_catalog.format('DROP FUNCTION %s', fn);
  END LOOP;
  model := p_name;
  sql_function := existing.sql_function;
  RETURN NEXT;
END
$fn$;

CREATE OR REPLACE FUNCTION procgate.drop_model(name text, if_exists boolean DEFAULT false)
RETURNS TABLE (model text, sql_function text)
LANGUAGE sql
BEGIN ATOMIC
  SELECT d.model, d.sql_function FROM procgate_internal.api_drop_model(current_user, $1, $2) d;
END;

COMMENT ON FUNCTION procgate.drop_model(text, boolean) IS 'drops a model of procgate.models and its SQL function';
