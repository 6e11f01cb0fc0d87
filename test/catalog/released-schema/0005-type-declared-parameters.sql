
-- EXECUTE of a TYPE procedure: every argument (defaults included) must be
-- one of the type's parameters, of its kind, and every required parameter
-- without a default given. A procedure with a parameter list of its own was
-- checked against that list too: its names and types must still suit the type.
CREATE OR REPLACE FUNCTION procgate_internal.check_type_invocation(
  proc procgate_internal.procedures, params jsonb, inputs jsonb
) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  declared jsonb;
  given record;
  input jsonb;
BEGIN
  IF proc.language <> 'type' THEN
    RETURN;
  END IF;
  SELECT t.parameters INTO declared FROM procgate_internal.procedure_types t WHERE t.name = proc.type_name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'procedure type "%" does not exist', proc.type_name USING ERRCODE = 'undefined_object';
  END IF;
  FOR given IN SELECT p.key, p.value FROM jsonb_each(coalesce(params, '{}')) p LOOP
    PERFORM procgate_internal.check_type_argument(proc.type_name, declared, given.key, given.value -> 'value', false);
  END LOOP;
  FOR input IN SELECT i FROM jsonb_array_elements(coalesce(inputs, '[]')) i LOOP
    PERFORM procgate_internal.check_type_argument(proc.type_name, declared, input ->> 'name', NULL, true);
  END LOOP;
  SELECT p INTO input FROM jsonb_array_elements(declared) p
   WHERE (p ->> 'required')::boolean AND NOT p ? 'default'
     AND NOT (params ? (p ->> 'name'))
     AND NOT EXISTS (SELECT FROM jsonb_array_elements(coalesce(inputs, '[]')) i WHERE i ->> 'name' = p ->> 'name')
   LIMIT 1;
  IF input IS NOT NULL THEN
    RAISE EXCEPTION 'type "%" needs parameter "%"', proc.type_name, input ->> 'name'
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = input ->> 'description';
  END IF;
END
$fn$;
