
CREATE FUNCTION procgate_internal.declared_fits_kind(is_table boolean, sql_type text, kind text) RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT CASE
    WHEN $3 = 'table' THEN $1
    WHEN $1 THEN false
    WHEN $3 = 'text' THEN $2 IN ('text', 'character varying', 'character')
    WHEN $3 = 'text[]' THEN $2 IN ('text[]', 'character varying[]')
    WHEN $3 = 'integer' THEN $2 IN ('smallint', 'integer', 'bigint')
    WHEN $3 = 'numeric' THEN $2 IN ('smallint', 'integer', 'bigint', 'numeric', 'real', 'double precision')
    WHEN $3 = 'boolean' THEN $2 = 'boolean'
    ELSE false
  END
$fn$;

CREATE FUNCTION procgate_internal.check_declared_type_parameters() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  type_params jsonb;
  declared jsonb;
  wanted jsonb;
BEGIN
  IF NEW.language <> 'type' OR NEW.parameters IS NULL THEN
    RETURN NEW;
  END IF;
  SELECT t.parameters INTO type_params FROM procgate_internal.procedure_types t WHERE t.name = NEW.type_name;
  IF NOT FOUND THEN
    -- create_procedure has refused an unknown type already.
    RETURN NEW;
  END IF;
  FOR declared IN SELECT d FROM jsonb_array_elements(NEW.parameters) d LOOP
    SELECT p INTO wanted FROM jsonb_array_elements(type_params) p WHERE p ->> 'name' = declared ->> 'name';
    IF wanted IS NULL THEN
      RAISE EXCEPTION 'type "%" has no parameter "%"', NEW.type_name, declared ->> 'name'
        USING ERRCODE = 'invalid_parameter_value',
              HINT = format('Its parameters: %s.',
                            (SELECT string_agg(p ->> 'name', ', ') FROM jsonb_array_elements(type_params) p));
    END IF;
    IF NOT procgate_internal.declared_fits_kind(
         coalesce((declared ->> 'table')::boolean, false), declared ->> 'type', wanted ->> 'kind') THEN
      RAISE EXCEPTION 'parameter "%" of type "%" must be %', declared ->> 'name', NEW.type_name,
        CASE WHEN wanted ->> 'kind' = 'table' THEN 'TABLE' ELSE wanted ->> 'kind' END
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END LOOP;
  SELECT p INTO wanted FROM jsonb_array_elements(type_params) p
   WHERE (p ->> 'required')::boolean AND NOT p ? 'default'
     AND NOT EXISTS (SELECT FROM jsonb_array_elements(NEW.parameters) d WHERE d ->> 'name' = p ->> 'name')
   LIMIT 1;
  IF wanted IS NOT NULL THEN
    RAISE EXCEPTION 'type "%" needs parameter "%"', NEW.type_name, wanted ->> 'name'
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Declare it in the parameter list, or leave the list out to take the type''s parameters.';
  END IF;
  RETURN NEW;
END
$fn$;
REVOKE ALL ON FUNCTION procgate_internal.check_declared_type_parameters() FROM PUBLIC;
REVOKE ALL ON FUNCTION procgate_internal.declared_fits_kind(boolean, text, text) FROM PUBLIC;

CREATE TRIGGER declared_type_parameters BEFORE INSERT OR UPDATE ON procgate_internal.procedures
  FOR EACH ROW EXECUTE FUNCTION procgate_internal.check_declared_type_parameters();
