-- The TABLE inputs a built-in type's checks need described (type-checks.sql),
-- and their description as the caller: the columns and types each input
-- query returns, read without running it.

-- PostgreSQL's numeric types, as the learners read features (src/builtins/learners/staged-rows.ts).
CREATE OR REPLACE FUNCTION procgate_internal.is_numeric_type(type_oid oid) RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$ SELECT $1 IN (20, 21, 23, 700, 701, 1700) $fn$;

-- The TABLE inputs whose columns the procedure's type checks: [{"name", "query", "placeholders"}].
CREATE OR REPLACE FUNCTION procgate_internal.api_plan_inputs(
  caller name, p_name text, p_tables procgate.table_value[]
) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  proc procgate_internal.procedures;
  declared jsonb;
BEGIN
  PERFORM procgate_internal.check_caller(caller);
  proc := procgate_internal.find_procedure(p_name);
  PERFORM procgate_internal.check_may_execute(caller, proc);
  IF proc.language <> 'type' OR p_tables IS NULL THEN
    RETURN '[]';
  END IF;
  SELECT t.parameters INTO declared FROM procgate_internal.procedure_types t WHERE t.name = proc.type_name;
  RETURN coalesce((
    SELECT jsonb_agg(jsonb_build_object('name', i ->> 'name', 'query', i -> 'query', 'placeholders', i -> 'placeholders'))
      FROM jsonb_array_elements(procgate_internal.resolve_tables(proc, p_tables)) i
     WHERE EXISTS (SELECT FROM jsonb_array_elements(declared) p
                    WHERE (p ->> 'name' = i ->> 'name' AND p ? 'features') OR p ->> 'column_of' = i ->> 'name')),
    '[]');
END
$fn$;

-- The columns of TABLE inputs, {"input": [{"name", "type", "oid"}]}, as the
-- caller sees them: their queries are prepared in the caller's session, with
-- the caller's rights and search_path (hence no SET search_path here), and run
-- with LIMIT 0. A `$n` in a query keeps the type its value had; a query with
-- an untyped one (CALL's, which the engine writes in as a literal) is not
-- described, and the run checks its columns when it starts.
CREATE OR REPLACE FUNCTION procgate_internal.describe_inputs(inputs jsonb) RETURNS jsonb
LANGUAGE plpgsql
AS $fn$
DECLARE
  input jsonb;
  prepared text := 'procgate_describe_input';
  declared text;
  nulls text;
  probe text;
  names text[];
  oids oid[];
  described jsonb := '{}';
BEGIN
  FOR input IN SELECT i FROM pg_catalog.jsonb_array_elements(coalesce(inputs, '[]')) i LOOP
    CONTINUE WHEN EXISTS (SELECT FROM pg_catalog.jsonb_each(coalesce(input -> 'placeholders', '{}')) p
                           WHERE p.value ->> 'type' = 'unknown');
    SELECT pg_catalog.string_agg(coalesce(input -> 'placeholders' -> n::text ->> 'type', 'text'), ', ' ORDER BY n),
           pg_catalog.string_agg('NULL', ', ')
      INTO declared, nulls
      FROM pg_catalog.generate_series(1, (SELECT pg_catalog.max(k::int)
                                            FROM pg_catalog.jsonb_object_keys(coalesce(input -> 'placeholders', '{}')) k)) n;
    declared := CASE WHEN declared IS NULL THEN '' ELSE '(' || declared || ')' END;
    nulls := CASE WHEN nulls IS NULL THEN '' ELSE '(' || nulls || ')' END;
    -- One row of NULLs whose columns are the query's: their names (in order) and types.
    probe := pg_catalog.format(
      'SELECT q.* FROM (VALUES (1)) AS procgate_one (x) LEFT JOIN (SELECT * FROM (%s) AS procgate_input LIMIT 0) AS q ON true',
      input ->> 'query');
    -- A prepared statement outlives an error (it is not transactional): clear one left behind.
    IF EXISTS (SELECT FROM pg_catalog.pg_prepared_statements s WHERE s.name = prepared) THEN
      EXECUTE pg_catalog.format('DEALLOCATE %I', prepared);
    END IF;
    EXECUTE pg_catalog.format(
      'PREPARE %I%s AS SELECT pg_catalog.array_agg(k.k ORDER BY k.n) FROM (SELECT pg_catalog.to_json(s) AS j FROM (%s) AS s) AS r, '
      'pg_catalog.json_object_keys(r.j) WITH ORDINALITY AS k (k, n)', prepared, declared, probe);
    EXECUTE pg_catalog.format('EXECUTE %I%s', prepared, nulls) INTO names;
    EXECUTE pg_catalog.format('DEALLOCATE %I', prepared);
    names := coalesce(names, '{}');
    EXECUTE pg_catalog.format(
      'PREPARE %I%s AS SELECT ARRAY[%s]::pg_catalog.oid[] FROM (%s) AS s', prepared, declared,
      (SELECT pg_catalog.string_agg(pg_catalog.format('pg_catalog.pg_typeof(s.%I)::pg_catalog.oid', c), ', ') FROM pg_catalog.unnest(names) c),
      probe);
    EXECUTE pg_catalog.format('EXECUTE %I%s', prepared, nulls) INTO oids;
    EXECUTE pg_catalog.format('DEALLOCATE %I', prepared);
    described := described || pg_catalog.jsonb_build_object(input ->> 'name', coalesce((
      SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'name', c.name, 'type', pg_catalog.format_type(c.oid, NULL), 'oid', c.oid) ORDER BY c.n)
        FROM ROWS FROM (pg_catalog.unnest(names), pg_catalog.unnest(oids)) WITH ORDINALITY AS c (name, oid, n)), '[]'));
  END LOOP;
  RETURN described;
END
$fn$;
