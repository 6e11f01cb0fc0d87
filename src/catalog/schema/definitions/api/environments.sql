-- Environments: named sets of environment variables and a PATH prefix that a
-- procedure picks with WITH (set_environment = 'name'). Superusers and
-- procgate_admin members register and drop them; everyone reads
-- procgate.environments. A name is checked at CREATE PROCEDURE and an
-- environment in use cannot be dropped. Lock order: CREATE PROCEDURE takes
-- FOR KEY SHARE on the environment row it names, drop_environment FOR UPDATE
-- before it looks for users, so neither can miss the other.

CREATE OR REPLACE VIEW procgate.environments AS
SELECT e.name, e.variables, e.path_prefix, e.owner, e.created_at
FROM procgate_internal.environments e;

COMMENT ON VIEW procgate.environments IS
  'procgate: registered environments (variables and PATH prefix) for set_environment';

CREATE OR REPLACE FUNCTION procgate_internal.reject_environment_write() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  RAISE EXCEPTION 'procgate.% is read-only', TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'Environments change through procgate.create_environment and procgate.drop_environment.';
END
$fn$;

CREATE OR REPLACE TRIGGER read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON procgate.environments
  FOR EACH ROW EXECUTE FUNCTION procgate_internal.reject_environment_write();

CREATE OR REPLACE FUNCTION procgate_internal.check_may_manage_environments(caller name, env_name text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF NOT procgate_internal.is_admin(caller) THEN
    RAISE EXCEPTION 'permission denied to manage environment "%"', coalesce(env_name, '')
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'Environments are registered and dropped by superusers and members of procgate_admin.';
  END IF;
END
$fn$;

-- The variables as stored: a JSON object of strings whose names a program's
-- environment can hold and the engine does not set or strip itself.
CREATE OR REPLACE FUNCTION procgate_internal.check_environment_variables(env_name text, variables jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  var record;
BEGIN
  IF variables IS NULL OR jsonb_typeof(variables) = 'null' THEN
    RETURN '{}';
  END IF;
  IF jsonb_typeof(variables) <> 'object' THEN
    RAISE EXCEPTION 'variables of environment "%" must be a JSON object of strings, not %',
      env_name, jsonb_typeof(variables)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOR var IN SELECT v.key, v.value FROM jsonb_each(variables) v ORDER BY v.key LOOP
    IF var.key !~ '^[A-Za-z_][A-Za-z0-9_]*$' THEN
      RAISE EXCEPTION 'invalid variable name "%" in environment "%"', var.key, env_name
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'A variable name is a letter or underscore, then letters, digits and underscores.';
    END IF;
    IF var.key = 'PATH' THEN
      RAISE EXCEPTION 'variable "PATH" of environment "%" is not allowed', env_name
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Give the directories as path_prefix: they are put before the engine''s PATH.';
    END IF;
    IF starts_with(var.key, 'PG') OR starts_with(var.key, 'PROCGATE_') THEN
      RAISE EXCEPTION 'variable "%" of environment "%" is reserved', var.key, env_name
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'PG* and PROCGATE_* variables are set or removed by the engine.';
    END IF;
    IF jsonb_typeof(var.value) <> 'string' THEN
      RAISE EXCEPTION 'value of variable "%" of environment "%" must be a string, not %',
        var.key, env_name, jsonb_typeof(var.value)
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END LOOP;
  RETURN variables;
END
$fn$;

CREATE OR REPLACE FUNCTION procgate_internal.check_path_prefix(env_name text, path_prefix text[])
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  dir text;
BEGIN
  FOREACH dir IN ARRAY coalesce(path_prefix, '{}') LOOP
    IF dir IS NULL THEN
      RAISE EXCEPTION 'path_prefix of environment "%" must not contain NULL', env_name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT starts_with(dir, '/') THEN
      RAISE EXCEPTION 'path_prefix entry "%" of environment "%" is not an absolute directory', dir, env_name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF strpos(dir, ':') > 0 THEN
      RAISE EXCEPTION 'path_prefix entry "%" of environment "%" contains ":", the PATH separator', dir, env_name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF dir ~ '[[:cntrl:]]' THEN
      RAISE EXCEPTION 'path_prefix entry "%" of environment "%" contains control characters', dir, env_name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END LOOP;
  -- One dimension, whatever shape was given.
  RETURN ARRAY(SELECT d FROM unnest(coalesce(path_prefix, '{}')) d);
END
$fn$;

-- As OR REPLACE of a procedure, replacing keeps the owner and creation time.
CREATE OR REPLACE FUNCTION procgate_internal.api_create_environment(
  caller name, p_name text, p_variables jsonb, p_path_prefix text[], p_or_replace boolean
) RETURNS SETOF procgate.environments
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  vars jsonb;
  dirs text[];
  stored text;
BEGIN
  PERFORM procgate_internal.check_caller(caller);
  PERFORM procgate_internal.check_may_manage_environments(caller, p_name);
  IF p_name IS NULL OR p_name = '' THEN
    RAISE EXCEPTION 'an environment needs a name' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  vars := procgate_internal.check_environment_variables(p_name, p_variables);
  dirs := procgate_internal.check_path_prefix(p_name, p_path_prefix);
  IF coalesce(p_or_replace, false) THEN
    INSERT INTO procgate_internal.environments AS e (name, variables, path_prefix, owner)
    VALUES (p_name, vars, dirs, caller)
    ON CONFLICT (name) DO UPDATE SET variables = excluded.variables, path_prefix = excluded.path_prefix
    RETURNING e.name INTO stored;
  ELSE
    INSERT INTO procgate_internal.environments AS e (name, variables, path_prefix, owner)
    VALUES (p_name, vars, dirs, caller)
    ON CONFLICT (name) DO NOTHING
    RETURNING e.name INTO stored;
    IF stored IS NULL THEN
      RAISE EXCEPTION 'environment "%" already exists', p_name
        USING ERRCODE = 'duplicate_object', HINT = 'Use or_replace => true to replace it.';
    END IF;
  END IF;
  RETURN QUERY SELECT * FROM procgate.environments v WHERE v.name = p_name;
END
$fn$;

-- Refused while a procedure names the environment in set_environment.
CREATE OR REPLACE FUNCTION procgate_internal.api_drop_environment(caller name, p_name text, p_if_exists boolean)
RETURNS TABLE (environment text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  users text[];
BEGIN
  PERFORM procgate_internal.check_caller(caller);
  PERFORM procgate_internal.check_may_manage_environments(caller, p_name);
  PERFORM FROM procgate_internal.environments e WHERE e.name = p_name FOR UPDATE;
  IF NOT FOUND THEN
    IF coalesce(p_if_exists, false) THEN
      RAISE NOTICE 'environment "%" does not exist, skipping', p_name;
      RETURN;
    END IF;
    RAISE EXCEPTION 'environment "%" does not exist', coalesce(p_name, '')
      USING ERRCODE = 'undefined_object';
  END IF;
  users := ARRAY(
    SELECT p.name FROM procgate_internal.procedures p
     WHERE p.options -> 'set_environment' ->> 'value' = p_name
     ORDER BY p.name);
  IF cardinality(users) > 0 THEN
    RAISE EXCEPTION 'cannot drop environment "%" because procedures use it: %', p_name,
      array_to_string(ARRAY(SELECT format('"%s"', u) FROM unnest(users) u), ', ')
      USING ERRCODE = 'dependent_objects_still_exist',
            DETAIL = array_to_string(
              ARRAY(SELECT format('procedure "%s" has set_environment = ''%s''', u, p_name) FROM unnest(users) u),
              E'\n'),
            HINT = 'Drop those procedures, or recreate them with another environment or none, first.';
  END IF;
  DELETE FROM procgate_internal.environments e WHERE e.name = p_name;
  environment := p_name;
  RETURN NEXT;
END
$fn$;

-- CREATE PROCEDURE ... WITH (set_environment = 'name'): the environment
-- must exist, and stays locked against a drop until the procedure commits.
CREATE OR REPLACE FUNCTION procgate_internal.check_set_environment(env_name text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF env_name IS NULL THEN
    RETURN;
  END IF;
  PERFORM FROM procgate_internal.environments e WHERE e.name = env_name FOR KEY SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'environment "%" does not exist', env_name
      USING ERRCODE = 'undefined_object',
            HINT = 'A superuser or procgate_admin member registers one with procgate.create_environment(name, variables, path_prefix).';
  END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION procgate.create_environment(
  name text, variables jsonb DEFAULT '{}', path_prefix text[] DEFAULT '{}', or_replace boolean DEFAULT false
) RETURNS SETOF procgate.environments
LANGUAGE sql
BEGIN ATOMIC
  SELECT e.*
    FROM procgate_internal.api_create_environment(
      current_user, create_environment.name, create_environment.variables,
      create_environment.path_prefix, create_environment.or_replace) e;
END;

COMMENT ON FUNCTION procgate.create_environment(text, jsonb, text[], boolean)
  IS 'registers an environment for set_environment (superusers and procgate_admin)';

CREATE OR REPLACE FUNCTION procgate.drop_environment(name text, if_exists boolean DEFAULT false)
RETURNS TABLE (environment text)
LANGUAGE sql
BEGIN ATOMIC
  SELECT d.environment FROM procgate_internal.api_drop_environment(current_user, $1, $2) d;
END;

COMMENT ON FUNCTION procgate.drop_environment(text, boolean)
  IS 'drops an environment no procedure uses (superusers and procgate_admin)';
