
CREATE FUNCTION procgate_internal.api_drop_model(caller name, p_name text, p_if_exists boolean)
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
GRANT EXECUTE ON FUNCTION procgate_internal.api_drop_model(name, text, boolean) TO PUBLIC;

CREATE FUNCTION procgate.drop_model(name text, if_exists boolean DEFAULT false)
RETURNS TABLE (model text, sql_function text)
LANGUAGE sql
BEGIN ATOMIC
  SELECT d.model, d.sql_function FROM procgate_internal.api_drop_model(current_user, $1, $2) d;
END;
COMMENT ON FUNCTION procgate.drop_model(text, boolean) IS 'drops a model of procgate.models and its SQL function';
