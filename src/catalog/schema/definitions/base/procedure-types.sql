-- The built-in procedure types (TYPE 'name') as the catalog knows them: their
-- parameters, so CREATE and EXECUTE refuse what a type does not take before a
-- run exists. The rows of procgate_internal.procedure_types are written by
-- whoever registers the built-ins (serve and worker), each time they start.

CREATE OR REPLACE VIEW procgate.procedure_types AS
SELECT t.name, t.summary, t.parameters FROM procgate_internal.procedure_types t;

-- Whether a JSON value has the shape a parameter kind takes.
CREATE OR REPLACE FUNCTION procgate_internal.fits_kind(value jsonb, kind text) RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT CASE $2
    WHEN 'text' THEN jsonb_typeof($1) = 'string'
    WHEN 'text[]' THEN jsonb_typeof($1) = 'array'
                       AND NOT EXISTS (SELECT FROM jsonb_array_elements($1) e WHERE jsonb_typeof(e) <> 'string')
    WHEN 'integer' THEN jsonb_typeof($1) = 'number' AND ($1 #>> '{}')::numeric = trunc(($1 #>> '{}')::numeric)
    WHEN 'numeric' THEN jsonb_typeof($1) = 'number'
    WHEN 'boolean' THEN jsonb_typeof($1) = 'boolean'
    ELSE false
  END
$fn$;

-- One argument (a value, or a TABLE when is_table) against a type's parameters.
CREATE OR REPLACE FUNCTION procgate_internal.check_type_argument(
  p_type_name text, params jsonb, arg_name text, value jsonb, is_table boolean
) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  declared jsonb;
BEGIN
  SELECT p INTO declared FROM jsonb_array_elements(params) p WHERE p ->> 'name' = arg_name;
  IF declared IS NULL THEN
    RAISE EXCEPTION 'type "%" has no parameter "%"', p_type_name, arg_name
      USING ERRCODE = 'invalid_parameter_value',
            HINT = format('Its parameters: %s.',
                          (SELECT string_agg(p ->> 'name', ', ') FROM jsonb_array_elements(params) p));
  END IF;
  IF (declared ->> 'kind' = 'table') <> is_table THEN
    RAISE EXCEPTION 'parameter "%" of type "%" %', arg_name, p_type_name,
      CASE WHEN is_table THEN 'is not a table parameter' ELSE 'is a table parameter' END
      USING ERRCODE = 'invalid_parameter_value',
            HINT = CASE WHEN is_table THEN NULL ELSE 'Pass a table as TABLE (name) or TABLE (SELECT ...).' END;
  END IF;
  IF NOT is_table AND value IS NOT NULL AND value <> 'null'
     AND NOT procgate_internal.fits_kind(value, declared ->> 'kind') THEN
    RAISE EXCEPTION 'parameter "%" of type "%" must be %', arg_name, p_type_name, declared ->> 'kind'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
END
$fn$;

-- CREATE PROCEDURE ... TYPE: the type must exist; the defaults a free-form
-- procedure gives in WITH must be the type's parameters.
CREATE OR REPLACE FUNCTION procgate_internal.check_type_definition(
  p_type_name text, free_form boolean, options jsonb
) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  params jsonb;
  opt record;
BEGIN
  SELECT t.parameters INTO params FROM procgate_internal.procedure_types t WHERE t.name = p_type_name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'procedure type "%" does not exist', p_type_name
      USING ERRCODE = 'undefined_object',
            HINT = format('Types: %s (procgate.procedure_types).',
                          (SELECT string_agg(t.name, ', ' ORDER BY t.name) FROM procgate_internal.procedure_types t));
  END IF;
  IF NOT free_form THEN
    RETURN;
  END IF;
  FOR opt IN SELECT o.key, o.value FROM jsonb_each(coalesce(options, '{}')) o LOOP
    CONTINUE WHEN opt.key = ANY (procgate_internal.procedure_option_keys());
    PERFORM procgate_internal.check_type_argument(p_type_name, params, opt.key, opt.value -> 'value', false);
  END LOOP;
END
$fn$;

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

CREATE OR REPLACE FUNCTION procgate_internal.declared_fits_kind(is_table boolean, sql_type text, kind text) RETURNS boolean
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

CREATE OR REPLACE FUNCTION procgate_internal.check_declared_type_parameters() RETURNS trigger
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

CREATE OR REPLACE TRIGGER declared_type_parameters BEFORE INSERT OR UPDATE ON procgate_internal.procedures
  FOR EACH ROW EXECUTE FUNCTION procgate_internal.check_declared_type_parameters();
