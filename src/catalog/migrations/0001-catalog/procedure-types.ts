/**
 * The built-in procedure types (TYPE 'name') as the catalog knows them:
 * their parameters, so CREATE and EXECUTE can refuse what a type does not
 * take before a run exists. The rows come from the engine's modules
 * (src/engine/types): migrate() writes them each time it runs.
 */
export const procedureTypes = `
CREATE TABLE procgate_internal.procedure_types (
  name text PRIMARY KEY,
  summary text NOT NULL,
  -- [{"name", "kind", "required", "default"?, "description"}]; kind: table, text, text[], integer, numeric, boolean.
  parameters jsonb NOT NULL
);

CREATE VIEW procgate.procedure_types AS
SELECT t.name, t.summary, t.parameters FROM procgate_internal.procedure_types t;
GRANT SELECT ON procgate.procedure_types TO PUBLIC;

-- Whether a JSON value has the shape a parameter kind takes.
CREATE FUNCTION procgate_internal.fits_kind(value jsonb, kind text) RETURNS boolean
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
CREATE FUNCTION procgate_internal.check_type_argument(
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
CREATE FUNCTION procgate_internal.check_type_definition(
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

${checkTypeInvocationSql('CREATE')}`;

/** check_type_invocation: CREATE in schema version 1, CREATE OR REPLACE in version 5, which checks declared lists too. */
export function checkTypeInvocationSql(create: 'CREATE' | 'CREATE OR REPLACE'): string {
  return `
-- EXECUTE of a TYPE procedure: every argument (defaults included) must be
-- one of the type's parameters, of its kind, and every required parameter
-- without a default given. A procedure with a parameter list of its own was
-- checked against that list too: its names and types must still suit the type.
${create} FUNCTION procgate_internal.check_type_invocation(
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
`;
}
