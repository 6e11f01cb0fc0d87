/**
 * The environment a procedure's programs get from its `set_environment`:
 * the engine adds the variables to its own (secrets stripped) and puts
 * path_prefix before PATH.
 */
export const environments = `
-- {"variables": {"NAME": "value"}, "path_prefix": ["/dir", ...]} of the
-- procedure's environment; NULL for a procedure without one (or no such procedure).
CREATE FUNCTION procgate_internal.engine_environment(p_procedure_id bigint)
RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT jsonb_build_object('variables', e.variables, 'path_prefix', to_jsonb(e.path_prefix))
    FROM procgate_internal.procedures p
    JOIN procgate_internal.environments e ON e.name = p.options -> 'set_environment' ->> 'value'
   WHERE p.id = $1
$fn$;
`;
