
DO $roles$
DECLARE
  wanted record;
BEGIN
  FOR wanted IN
    SELECT * FROM (VALUES
      ('procgate_developer', 'procgate: may create LANGUAGE command and LANGUAGE javascript procedures'),
      ('procgate_admin', 'procgate: sees and kills every run')) AS r (name, purpose)
  LOOP
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = wanted.name) THEN
      BEGIN
        EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', wanted.name);
        EXECUTE pg_catalog.format('COMMENT ON ROLE %I IS %L', wanted.name, wanted.purpose);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;
      END;
    END IF;
  END LOOP;
END
$roles$;

-- migrate() creates procgate_internal before any migration, for schema_migrations.
CREATE SCHEMA IF NOT EXISTS procgate_internal;
REVOKE ALL ON SCHEMA procgate_internal FROM PUBLIC;
COMMENT ON SCHEMA procgate_internal IS 'procgate storage and engine functions; not for users';

CREATE SCHEMA procgate;
GRANT USAGE ON SCHEMA procgate TO PUBLIC;
COMMENT ON SCHEMA procgate IS 'procgate: read-only views of procedures and runs, and the SQL API functions';

-- A role named procgate (the embedded superuser) would find this schema as
-- its "$user" and create its tables in it; in this database it starts
-- from public instead.
DO $user_schema$
BEGIN
  IF EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname = 'procgate') THEN
    EXECUTE pg_catalog.format('ALTER ROLE procgate IN DATABASE %I SET search_path = public', pg_catalog.current_database());
  END IF;
END
$user_schema$;


CREATE TABLE procgate_internal.procedures (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL UNIQUE CHECK (name <> ''),
  language text NOT NULL CHECK (language IN ('command', 'javascript', 'type')),
  type_name text,
  command text,
  args text[] NOT NULL DEFAULT '{}',
  execution_mode text NOT NULL DEFAULT 'distributed'
    CHECK (execution_mode IN ('distributed', 'nondistributed')),
  -- NULL: free-form (any named parameter); else [{"name", "type", "table", "default"?}].
  parameters jsonb,
  -- RETURNS TABLE columns [{"name", "type"}], NULL without RETURNS TABLE.
  returns jsonb,
  -- Procedure options and, for a free-form procedure, parameter defaults: {"key": {"value", "type"}}.
  options jsonb NOT NULL DEFAULT '{}',
  owner name NOT NULL,
  -- Roles granted EXECUTE ('public' for PUBLIC). text[], not name[]: the pg driver parses text[].
  execute_roles text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  CHECK ((language = 'type') = (type_name IS NOT NULL)),
  CHECK ((language = 'command') = (command IS NOT NULL))
);

CREATE TABLE procgate_internal.procedure_files (
  procedure_id bigint NOT NULL REFERENCES procgate_internal.procedures (id) ON DELETE CASCADE,
  path text NOT NULL CHECK (path <> ''),
  content bytea NOT NULL,
  PRIMARY KEY (procedure_id, path)
);

CREATE TABLE procgate_internal.runs (
  run_id uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
  -- NULL once the procedure is dropped; the name stays for history.
  procedure_id bigint REFERENCES procgate_internal.procedures (id) ON DELETE SET NULL,
  procedure text NOT NULL,
  state text NOT NULL DEFAULT 'queued'
    CHECK (state IN ('queued', 'running', 'cancelling', 'succeeded', 'failed', 'killed')),
  run_tag text,
  -- {"name": {"value", "type"}}: given arguments merged over the defaults.
  params jsonb NOT NULL DEFAULT '{}',
  -- [{"name", "query", "placeholders", "partition_by"}]: TABLE arguments, read when the run starts.
  input_queries jsonb NOT NULL DEFAULT '[]',
  output_tables text[] NOT NULL DEFAULT '{}',
  options jsonb NOT NULL DEFAULT '{}',
  submitted_by name NOT NULL,
  -- clock_timestamp: runs submitted in one transaction still sort in submission order.
  created_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  started_at timestamptz,
  finished_at timestamptz,
  progress numeric NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
  -- NULL until the engine has planned the run's segments.
  segments_total int CHECK (segments_total >= 0),
  segments_succeeded int NOT NULL DEFAULT 0,
  segments_failed int NOT NULL DEFAULT 0,
  rows_in bigint NOT NULL DEFAULT 0,
  rows_out bigint NOT NULL DEFAULT 0,
  error text,
  results jsonb,
  worker text,
  heartbeat_at timestamptz
);

CREATE INDEX runs_state_idx ON procgate_internal.runs (state, created_at);
-- By name, not id: runs outlive their procedure.
CREATE INDEX runs_procedure_idx ON procgate_internal.runs (procedure, created_at);
-- ON DELETE SET NULL of a dropped procedure finds its runs here.
CREATE INDEX runs_procedure_id_idx ON procgate_internal.runs (procedure_id);
CREATE INDEX runs_created_at_idx ON procgate_internal.runs (created_at);
CREATE INDEX runs_run_tag_idx ON procgate_internal.runs (run_tag) WHERE run_tag IS NOT NULL;
-- The row filter of the procgate.runs view.
CREATE INDEX runs_submitted_by_idx ON procgate_internal.runs (submitted_by, created_at);

CREATE TABLE procgate_internal.run_segments (
  run_id uuid NOT NULL REFERENCES procgate_internal.runs (run_id) ON DELETE CASCADE,
  segment int NOT NULL CHECK (segment >= 0),
  state text NOT NULL DEFAULT 'queued'
    CHECK (state IN ('queued', 'running', 'cancelling', 'succeeded', 'failed', 'killed')),
  worker text,
  pid int,
  -- Fences a segment's output: only the current attempt may commit rows.
  attempt int NOT NULL DEFAULT 0,
  lease_until timestamptz,
  started_at timestamptz,
  finished_at timestamptz,
  exit_code int,
  rows_in bigint NOT NULL DEFAULT 0,
  rows_out bigint NOT NULL DEFAULT 0,
  progress numeric NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
  message text,
  results jsonb,
  PRIMARY KEY (run_id, segment)
);

-- Workers claim queued segments with SKIP LOCKED; this keeps the scan to the queue.
CREATE INDEX run_segments_queued_idx ON procgate_internal.run_segments (run_id, segment)
  WHERE state = 'queued';
-- Crash recovery looks for running segments whose lease has expired.
CREATE INDEX run_segments_lease_idx ON procgate_internal.run_segments (lease_until)
  WHERE state = 'running';

CREATE TABLE procgate_internal.run_output (
  run_id uuid NOT NULL REFERENCES procgate_internal.runs (run_id) ON DELETE CASCADE,
  segment int NOT NULL DEFAULT 0,
  stream text NOT NULL CHECK (stream IN ('stdout', 'stderr')),
  line_no bigint NOT NULL,
  line text NOT NULL,
  at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  PRIMARY KEY (run_id, segment, stream, line_no)
);


CREATE VIEW procgate.procedures WITH (security_barrier) AS
SELECT
  p.name,
  p.type_name AS type,
  p.language,
  p.command,
  p.args,
  p.execution_mode,
  COALESCE(
    (SELECT pg_catalog.jsonb_agg(
              pg_catalog.jsonb_build_object('path', f.path, 'size', pg_catalog.octet_length(f.content))
              ORDER BY f.path)
       FROM procgate_internal.procedure_files f
      WHERE f.procedure_id = p.id),
    '[]'::jsonb) AS files,
  p.parameters,
  p.options,
  p.owner,
  p.created_at
FROM procgate_internal.procedures p;

CREATE VIEW procgate.runs WITH (security_barrier) AS
SELECT
  r.run_id,
  r.procedure,
  r.state,
  r.run_tag,
  r.params,
  r.input_queries,
  r.output_tables,
  r.options,
  r.submitted_by,
  r.created_at,
  r.started_at,
  r.finished_at,
  COALESCE(r.finished_at, pg_catalog.now()) - r.started_at AS duration,
  r.progress,
  r.segments_total,
  r.segments_succeeded,
  r.segments_failed,
  r.rows_in,
  r.rows_out,
  r.error,
  r.results,
  r.worker,
  r.heartbeat_at
FROM procgate_internal.runs r
WHERE (r.submitted_by = current_user OR pg_catalog.pg_has_role(current_user, 'procgate_admin', 'MEMBER'));

CREATE VIEW procgate.run_segments WITH (security_barrier) AS
SELECT
  s.run_id,
  s.segment,
  s.state,
  s.worker,
  s.pid,
  s.attempt,
  s.started_at,
  s.finished_at,
  s.exit_code,
  s.rows_in,
  s.rows_out,
  s.progress,
  s.message,
  s.results
FROM procgate_internal.run_segments s
JOIN procgate_internal.runs r ON r.run_id = s.run_id
WHERE (r.submitted_by = current_user OR pg_catalog.pg_has_role(current_user, 'procgate_admin', 'MEMBER'));

CREATE VIEW procgate.run_output WITH (security_barrier) AS
SELECT o.run_id, o.segment, o.stream, o.line_no, o.line, o.at
FROM procgate_internal.run_output o
JOIN procgate_internal.runs r ON r.run_id = o.run_id
WHERE (r.submitted_by = current_user OR pg_catalog.pg_has_role(current_user, 'procgate_admin', 'MEMBER'));

COMMENT ON VIEW procgate.procedures IS 'procgate: one row per procedure';
COMMENT ON VIEW procgate.runs IS 'procgate: one row per run you submitted (every run for procgate_admin)';
COMMENT ON VIEW procgate.run_segments IS 'procgate: one row per data segment of a visible run';
COMMENT ON VIEW procgate.run_output IS 'procgate: captured stdout and stderr lines of visible runs';

-- Simple views are auto-updatable; a write by a role holding privileges on
-- them (a superuser) must still fail, and with 42501 like everyone else's.
CREATE FUNCTION procgate_internal.reject_view_write() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  RAISE EXCEPTION 'procgate.% is read-only', TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'Procedures and runs change through CREATE, EXECUTE, KILL and DROP PROCEDURE (or the procgate functions).';
END
$fn$;

CREATE TRIGGER read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON procgate.procedures
  FOR EACH ROW EXECUTE FUNCTION procgate_internal.reject_view_write();
CREATE TRIGGER read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON procgate.runs
  FOR EACH ROW EXECUTE FUNCTION procgate_internal.reject_view_write();
CREATE TRIGGER read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON procgate.run_segments
  FOR EACH ROW EXECUTE FUNCTION procgate_internal.reject_view_write();
CREATE TRIGGER read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON procgate.run_output
  FOR EACH ROW EXECUTE FUNCTION procgate_internal.reject_view_write();


CREATE TYPE procgate.arg_value AS (name text, "position" int, value jsonb, type regtype);
CREATE TYPE procgate.table_value AS (
  name text, "position" int, query text, placeholders jsonb, partition_by text[]
);
CREATE TYPE procgate.file_value AS (path text, content bytea);
CREATE TYPE procgate.param_def AS (
  name text, type regtype, is_table boolean, has_default boolean, default_value jsonb
);
CREATE TYPE procgate.column_def AS (name text, type regtype);

-- The value keeps its SQL type, so a declared parameter can be checked against it.
CREATE FUNCTION procgate.arg(name text, "position" int, value anyelement) RETURNS procgate.arg_value
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$ SELECT ROW($1, $2, pg_catalog.to_jsonb($3), pg_catalog.pg_typeof($3))::procgate.arg_value $fn$;

-- An untyped literal, NULL or $n would leave anyelement undecided; they arrive as text.
CREATE FUNCTION procgate.arg(name text, "position" int, value text) RETURNS procgate.arg_value
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$ SELECT ROW($1, $2, pg_catalog.to_jsonb($3), 'text'::regtype)::procgate.arg_value $fn$;

CREATE FUNCTION procgate.table_arg(
  name text, "position" int, query text, placeholders jsonb, partition_by text[]
) RETURNS procgate.table_value
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$ SELECT ROW($1, $2, $3, $4, $5)::procgate.table_value $fn$;

CREATE FUNCTION procgate.file(path text, content text) RETURNS procgate.file_value
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$ SELECT ROW($1, pg_catalog.convert_to($2, 'UTF8'))::procgate.file_value $fn$;

CREATE FUNCTION procgate.file(path text, content bytea) RETURNS procgate.file_value
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$ SELECT ROW($1, $2)::procgate.file_value $fn$;

CREATE FUNCTION procgate.param(
  name text, type regtype, is_table boolean, has_default boolean, default_value jsonb
) RETURNS procgate.param_def
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$ SELECT ROW($1, $2, $3, $4, $5)::procgate.param_def $fn$;

CREATE FUNCTION procgate.column(name text, type regtype) RETURNS procgate.column_def
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$ SELECT ROW($1, $2)::procgate.column_def $fn$;


-- Whether member has role's privileges, as PostgreSQL checks ownership. A
-- role that no longer exists yields false rather than an error.
CREATE FUNCTION procgate_internal.has_role(member name, role text, mode text DEFAULT 'USAGE')
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT EXISTS (
    SELECT FROM pg_catalog.pg_roles r
     WHERE r.rolname = $2 AND pg_catalog.pg_has_role($1, r.oid, $3))
$fn$;

-- Superusers are members of every role, so this covers them too.
CREATE FUNCTION procgate_internal.is_admin(caller name) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$ SELECT procgate_internal.has_role($1, 'procgate_admin', 'MEMBER') $fn$;

-- The claimed caller must be a role the session may become: a session
-- cannot record someone else as the submitter or owner.
CREATE FUNCTION procgate_internal.check_caller(claimed name) RETURNS name
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF claimed IS NULL OR NOT procgate_internal.has_role(session_user, claimed, 'MEMBER') THEN
    RAISE EXCEPTION 'permission denied to act as role "%"', claimed
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN claimed;
END
$fn$;

CREATE FUNCTION procgate_internal.find_procedure(proc_name text, for_update boolean DEFAULT false)
RETURNS procgate_internal.procedures
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  found_proc procgate_internal.procedures;
BEGIN
  IF for_update THEN
    SELECT * INTO found_proc FROM procgate_internal.procedures p WHERE p.name = proc_name FOR UPDATE;
  ELSE
    SELECT * INTO found_proc FROM procgate_internal.procedures p WHERE p.name = proc_name;
  END IF;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'procedure "%" does not exist', proc_name USING ERRCODE = 'undefined_function';
  END IF;
  RETURN found_proc;
END
$fn$;

-- Owner (or a member of the owning role), admin, or a grantee of EXECUTE.
CREATE FUNCTION procgate_internal.may_execute(caller name, proc procgate_internal.procedures)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT procgate_internal.has_role($1, ($2).owner)
      OR procgate_internal.is_admin($1)
      OR 'public' = ANY (($2).execute_roles)
      OR EXISTS (SELECT FROM pg_catalog.unnest(($2).execute_roles) g (role)
                  WHERE procgate_internal.has_role($1, g.role))
$fn$;

CREATE FUNCTION procgate_internal.check_may_execute(caller name, proc procgate_internal.procedures)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF NOT procgate_internal.may_execute(caller, proc) THEN
    RAISE EXCEPTION 'permission denied for procedure "%"', proc.name
      USING ERRCODE = 'insufficient_privilege',
            HINT = pg_catalog.format('The owner can run GRANT EXECUTE ON PROCEDURE %I TO %I.', proc.name, caller);
  END IF;
END
$fn$;

-- DROP, OR REPLACE and GRANT need ownership, as for PostgreSQL's own objects.
CREATE FUNCTION procgate_internal.check_may_manage(caller name, proc procgate_internal.procedures)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF NOT (procgate_internal.has_role(caller, proc.owner) OR procgate_internal.is_admin(caller)) THEN
    RAISE EXCEPTION 'must be owner of procedure "%"', proc.name USING ERRCODE = 'insufficient_privilege';
  END IF;
END
$fn$;


-- source NULL: value is plain JSON (a parameter's DEFAULT) decoded into target.
-- Otherwise value is to_jsonb of a source-typed value, cast via its text form
-- as if the user had written it as a literal of the target type.
CREATE FUNCTION procgate_internal.cast_to(value jsonb, source regtype, target regtype, what text)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  text_form text;
  result jsonb;
BEGIN
  IF value IS NULL OR jsonb_typeof(value) = 'null' THEN
    RETURN jsonb_build_object('value', NULL, 'type', target::text);
  END IF;
  IF source = target THEN
    RETURN jsonb_build_object('value', value, 'type', target::text);
  END IF;
  BEGIN
    IF source IS NULL THEN
      EXECUTE format('SELECT to_jsonb(x.v) FROM jsonb_to_record($1) AS x (v %s)', target)
        INTO result USING jsonb_build_object('v', value);
    ELSE
      IF source IN ('json'::regtype, 'jsonb'::regtype) THEN
        text_form := value::text;
      ELSIF jsonb_typeof(value) IN ('array', 'object') THEN
        -- Arrays and composites: PostgreSQL's text form, not JSON's.
        EXECUTE format('SELECT x.v::text FROM jsonb_to_record($1) AS x (v %s)', source)
          INTO text_form USING jsonb_build_object('v', value);
      ELSE
        text_form := value #>> '{}';
      END IF;
      EXECUTE format('SELECT to_jsonb(%L::%s)', text_form, target) INTO result;
    END IF;
  EXCEPTION WHEN OTHERS THEN
    RAISE EXCEPTION 'invalid value for %: %', what, SQLERRM
      USING ERRCODE = 'invalid_parameter_value';
  END;
  RETURN jsonb_build_object('value', result, 'type', target::text);
END
$fn$;

-- Options have built-in types, so they are checked with static casts in
-- the owner-rights functions: no user code can run there.
CREATE FUNCTION procgate_internal.option_integer(opt procgate.arg_value, minimum int) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  n int;
BEGIN
  BEGIN
    n := (opt.value #>> '{}')::int;
  EXCEPTION WHEN OTHERS THEN
    n := NULL;
  END;
  IF n IS NULL OR n < minimum THEN
    RAISE EXCEPTION 'invalid value for option "%": must be a % integer', opt.name,
      CASE WHEN minimum > 0 THEN 'positive' ELSE 'non-negative' END
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN jsonb_build_object('value', n, 'type', 'integer');
END
$fn$;

CREATE FUNCTION procgate_internal.option_boolean(opt procgate.arg_value) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  b boolean;
BEGIN
  BEGIN
    b := (opt.value #>> '{}')::boolean;
  EXCEPTION WHEN OTHERS THEN
    b := NULL;
  END;
  IF b IS NULL THEN
    RAISE EXCEPTION 'invalid value for option "%": must be a boolean', opt.name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN jsonb_build_object('value', b, 'type', 'boolean');
END
$fn$;

CREATE FUNCTION procgate_internal.option_text(opt procgate.arg_value) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF opt.value IS NULL OR jsonb_typeof(opt.value) IN ('null', 'array', 'object') THEN
    RAISE EXCEPTION 'invalid value for option "%": must be a text', opt.name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN jsonb_build_object('value', opt.value #>> '{}', 'type', 'text');
END
$fn$;

-- An interval, or a number of seconds.
CREATE FUNCTION procgate_internal.option_interval(opt procgate.arg_value) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  i interval;
BEGIN
  BEGIN
    IF jsonb_typeof(opt.value) = 'number' THEN
      i := make_interval(secs => (opt.value #>> '{}')::double precision);
    ELSE
      i := (opt.value #>> '{}')::interval;
    END IF;
  EXCEPTION WHEN OTHERS THEN
    i := NULL;
  END;
  IF i IS NULL OR i <= interval '0' THEN
    RAISE EXCEPTION 'invalid value for option "%": must be a positive interval or number of seconds', opt.name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN jsonb_build_object('value', to_jsonb(i), 'type', 'interval');
END
$fn$;

-- Options must be named and given once.
CREATE FUNCTION procgate_internal.check_option_names(options procgate.arg_value[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  seen text[] := '{}';
  opt procgate.arg_value;
BEGIN
  FOREACH opt IN ARRAY coalesce(options, '{}') LOOP
    IF opt.name IS NULL OR opt.name = '' THEN
      RAISE EXCEPTION 'options must be named' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF opt.name = ANY (seen) THEN
      RAISE EXCEPTION 'option "%" is given more than once', opt.name USING ERRCODE = 'invalid_parameter_value';
    END IF;
    seen := seen || opt.name;
  END LOOP;
END
$fn$;


CREATE FUNCTION procgate_internal.normalise_file_path(path text) RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  parts text[] := '{}';
  part text;
  problem text;
BEGIN
  IF path IS NULL OR path = '' THEN
    problem := 'the path is empty';
  ELSIF strpos(path, chr(92)) > 0 THEN
    problem := 'backslashes are not allowed';
  ELSIF path ~ '[[:cntrl:]]' THEN
    problem := 'control characters are not allowed';
  ELSIF left(path, 1) = '/' THEN
    problem := 'absolute paths are not allowed';
  ELSE
    FOREACH part IN ARRAY string_to_array(path, '/') LOOP
      CONTINUE WHEN part IN ('', '.');
      IF part = '..' THEN
        IF cardinality(parts) = 0 THEN
          problem := 'the path leads outside the procedure''s directory';
          EXIT;
        END IF;
        parts := parts[1:cardinality(parts) - 1];
      ELSE
        parts := parts || part;
      END IF;
    END LOOP;
    IF problem IS NULL AND cardinality(parts) = 0 THEN
      problem := 'the path names no file';
    END IF;
  END IF;
  IF problem IS NOT NULL THEN
    RAISE EXCEPTION 'invalid file path "%": %', coalesce(path, ''), problem
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN array_to_string(parts, '/');
END
$fn$;


-- WITH keys that configure the procedure rather than default a parameter.
CREATE FUNCTION procgate_internal.procedure_option_keys() RETURNS text[]
LANGUAGE sql IMMUTABLE
AS $fn$ SELECT ARRAY['max_concurrency_per_node', 'set_environment', 'run_on_creation'] $fn$;

CREATE FUNCTION procgate_internal.check_parameters(proc_name text, params procgate.param_def[])
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  def procgate.param_def;
  seen text[] := '{}';
  ord int := 0;
BEGIN
  FOREACH def IN ARRAY params LOOP
    ord := ord + 1;
    IF def.name IS NULL OR def.name = '' THEN
      RAISE EXCEPTION 'parameter % of procedure "%" has no name', ord, proc_name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF def.name = ANY (seen) THEN
      RAISE EXCEPTION 'parameter "%" of procedure "%" is declared more than once', def.name, proc_name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF def.name = ANY (procgate_internal.procedure_option_keys()) THEN
      RAISE EXCEPTION 'parameter "%" of procedure "%" has the name of a procedure option', def.name, proc_name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF coalesce(def.is_table, false) THEN
      IF coalesce(def.has_default, false) THEN
        RAISE EXCEPTION 'table parameter "%" of procedure "%" cannot have a default', def.name, proc_name
          USING ERRCODE = 'invalid_parameter_value';
      END IF;
    ELSIF def.type IS NULL THEN
      RAISE EXCEPTION 'parameter "%" of procedure "%" has no type', def.name, proc_name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    seen := seen || def.name;
  END LOOP;
END
$fn$;

-- The values to convert to declared types: DEFAULTs (plain JSON) and WITH
-- values naming a declared parameter (which override the DEFAULT).
CREATE FUNCTION procgate_internal.api_plan_defaults(
  proc_name text, params procgate.param_def[], options procgate.arg_value[]
) RETURNS TABLE (param text, value jsonb, source regtype, target regtype, what text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  def procgate.param_def;
  opt procgate.arg_value;
  overridden text[] := '{}';
BEGIN
  IF params IS NULL THEN
    RETURN;
  END IF;
  PERFORM procgate_internal.check_parameters(proc_name, params);
  PERFORM procgate_internal.check_option_names(options);
  FOREACH opt IN ARRAY coalesce(options, '{}') LOOP
    CONTINUE WHEN opt.name = ANY (procgate_internal.procedure_option_keys());
    def := NULL;
    SELECT d.* INTO def FROM unnest(params) d WHERE d.name = opt.name;
    IF def.name IS NULL THEN
      RAISE EXCEPTION 'procedure "%" has no parameter "%"', proc_name, opt.name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF coalesce(def.is_table, false) THEN
      RAISE EXCEPTION 'parameter "%" of procedure "%" is a table parameter', opt.name, proc_name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    overridden := overridden || opt.name;
    param := def.name;
    value := opt.value;
    source := opt.type;
    target := def.type;
    what := format('parameter "%s" of procedure "%s"', def.name, proc_name);
    RETURN NEXT;
  END LOOP;
  FOREACH def IN ARRAY params LOOP
    CONTINUE WHEN NOT coalesce(def.has_default, false) OR coalesce(def.is_table, false)
      OR def.name = ANY (overridden);
    param := def.name;
    value := def.default_value;
    source := NULL;
    target := def.type;
    what := format('the default of parameter "%s" of procedure "%s"', def.name, proc_name);
    RETURN NEXT;
  END LOOP;
END
$fn$;

-- The declared parameter list as stored: [{"name", "type", "table", "default"?}].
-- defaults holds the converted DEFAULT and WITH values, {"name": {"value", "type"}}.
CREATE FUNCTION procgate_internal.parameter_list(
  proc_name text, params procgate.param_def[], defaults jsonb
) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  listed jsonb;
BEGIN
  IF params IS NULL THEN
    IF coalesce(defaults, '{}') <> '{}' THEN
      RAISE EXCEPTION 'procedure "%" has no parameter list for defaults', proc_name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN NULL;
  END IF;
  PERFORM procgate_internal.check_parameters(proc_name, params);
  -- Defaults arrive through cast_to; each must fit a declared scalar parameter.
  IF EXISTS (
    SELECT FROM jsonb_each(coalesce(defaults, '{}')) d
     WHERE NOT EXISTS (
       SELECT FROM unnest(params) p
        WHERE p.name = d.key AND NOT coalesce(p.is_table, false) AND p.type::text = d.value ->> 'type'))
  THEN
    RAISE EXCEPTION 'defaults do not match the parameters of procedure "%"', proc_name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT jsonb_agg(
           jsonb_build_object(
             'name', p.name,
             'type', CASE WHEN coalesce(p.is_table, false) THEN NULL ELSE p.type::text END,
             'table', coalesce(p.is_table, false))
           || CASE WHEN defaults ? p.name
                   THEN jsonb_build_object('default', defaults -> p.name -> 'value')
                   ELSE '{}' END
           ORDER BY p.ord)
    INTO listed
    FROM unnest(params) WITH ORDINALITY p (name, type, is_table, has_default, default_value, ord);
  RETURN coalesce(listed, '[]');
END
$fn$;

-- Procedure options, typed; for a free-form procedure other keys are
-- parameter defaults kept with their own types.
CREATE FUNCTION procgate_internal.procedure_options(
  proc_name text, free_form boolean, options procgate.arg_value[], defaults jsonb
) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  opt procgate.arg_value;
  typed jsonb;
  result jsonb := '{}';
BEGIN
  PERFORM procgate_internal.check_option_names(options);
  FOREACH opt IN ARRAY coalesce(options, '{}') LOOP
    typed := CASE opt.name
      WHEN 'max_concurrency_per_node' THEN procgate_internal.option_integer(opt, 0)
      WHEN 'set_environment' THEN procgate_internal.option_text(opt)
      WHEN 'run_on_creation' THEN procgate_internal.option_boolean(opt)
    END;
    IF typed IS NULL AND free_form THEN
      typed := jsonb_build_object('value', coalesce(opt.value, 'null'), 'type', coalesce(opt.type::text, 'jsonb'));
    ELSIF typed IS NULL AND NOT coalesce(defaults ? opt.name, false) THEN
      RAISE EXCEPTION 'procedure "%" has no parameter "%"', proc_name, opt.name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF typed IS NOT NULL THEN
      result := result || jsonb_build_object(opt.name, typed);
    END IF;
  END LOOP;
  RETURN result;
END
$fn$;

CREATE FUNCTION procgate_internal.return_columns(proc_name text, columns procgate.column_def[])
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  col procgate.column_def;
  seen text[] := '{}';
BEGIN
  IF columns IS NULL THEN
    RETURN NULL;
  END IF;
  FOREACH col IN ARRAY columns LOOP
    IF col.name IS NULL OR col.name = '' OR col.type IS NULL THEN
      RAISE EXCEPTION 'RETURNS TABLE of procedure "%" needs a name and a type for every column', proc_name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF col.name = ANY (seen) THEN
      RAISE EXCEPTION 'column "%" of RETURNS TABLE of procedure "%" is declared more than once', col.name, proc_name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    seen := seen || col.name;
  END LOOP;
  RETURN (SELECT jsonb_agg(jsonb_build_object('name', c.name, 'type', c.type::text) ORDER BY c.ord)
            FROM unnest(columns) WITH ORDINALITY c (name, type, ord));
END
$fn$;

-- FILES entries with normalised paths, each path once.
CREATE FUNCTION procgate_internal.check_files(proc_name text, files procgate.file_value[])
RETURNS procgate.file_value[]
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  f procgate.file_value;
  normalised procgate.file_value[] := '{}';
  seen text[] := '{}';
  path text;
BEGIN
  FOREACH f IN ARRAY coalesce(files, '{}') LOOP
    path := procgate_internal.normalise_file_path(f.path);
    IF path = ANY (seen) THEN
      RAISE EXCEPTION 'file "%" of procedure "%" is given more than once', path, proc_name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF f.content IS NULL THEN
      RAISE EXCEPTION 'file "%" of procedure "%" has no content', path, proc_name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    seen := seen || path;
    normalised := normalised || ROW(path, f.content)::procgate.file_value;
  END LOOP;
  RETURN normalised;
END
$fn$;


-- What runs: LANGUAGE command COMMAND 'program' ARGS (...), LANGUAGE javascript, or TYPE 'name'.
CREATE FUNCTION procgate_internal.check_kind(
  caller name, proc_name text, lang text, type_name text, command text, args text[]
) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF lang IS NULL OR lang NOT IN ('command', 'javascript', 'type') THEN
    RAISE EXCEPTION 'invalid language "%" for procedure "%": must be command, javascript or type',
      coalesce(lang, ''), proc_name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF lang IN ('command', 'javascript')
     AND NOT procgate_internal.has_role(caller, 'procgate_developer', 'MEMBER') THEN
    RAISE EXCEPTION 'permission denied to create procedure "%" of language %', proc_name, lang
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'Procedures of language command or javascript need membership in role procgate_developer.';
  END IF;
  IF (lang = 'command') <> (coalesce(command, '') <> '') THEN
    RAISE EXCEPTION 'procedure "%": %', proc_name,
      CASE WHEN lang = 'command' THEN 'language command needs a COMMAND'
           ELSE 'COMMAND is only for language command' END
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF (lang = 'type') <> (coalesce(type_name, '') <> '') THEN
    RAISE EXCEPTION 'procedure "%": %', proc_name,
      CASE WHEN lang = 'type' THEN 'language type needs a TYPE' ELSE 'TYPE is only for language type' END
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF lang <> 'command' AND cardinality(args) > 0 THEN
    RAISE EXCEPTION 'procedure "%": ARGS are only for language command', proc_name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF array_position(args, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'procedure "%": ARGS must not contain NULL', proc_name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
END
$fn$;

CREATE FUNCTION procgate_internal.api_create_procedure(
  caller name, p_name text, p_or_replace boolean, p_language text, p_type_name text,
  p_command text, p_args text[], p_execution_mode text, p_parameters procgate.param_def[],
  p_defaults jsonb, p_files procgate.file_value[], p_returns procgate.column_def[],
  p_options procgate.arg_value[]
) RETURNS SETOF procgate.procedures
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  lang text := lower(p_language);
  mode text := lower(coalesce(p_execution_mode, 'distributed'));
  arg_list text[] := coalesce(p_args, '{}');
  native regprocedure;
  params jsonb;
  proc_options jsonb;
  columns jsonb;
  files procgate.file_value[];
  existing procgate_internal.procedures;
  proc_id bigint;
BEGIN
  PERFORM procgate_internal.check_caller(caller);
  IF p_name IS NULL OR p_name = '' THEN
    RAISE EXCEPTION 'a procedure needs a name' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- CALL and DROP PROCEDURE of this name would be ambiguous with PostgreSQL's own.
  SELECT p.oid::regprocedure INTO native
    FROM pg_catalog.pg_proc p
   WHERE p.proname = p_name AND p.prokind = 'p'
   ORDER BY p.oid
   LIMIT 1;
  IF native IS NOT NULL THEN
    RAISE EXCEPTION 'procedure "%" clashes with the PostgreSQL procedure %', p_name, native
      USING ERRCODE = 'duplicate_function',
            HINT = 'CALL and DROP PROCEDURE of that name reach PostgreSQL''s procedure; choose another name.';
  END IF;
  PERFORM procgate_internal.check_kind(caller, p_name, lang, p_type_name, p_command, arg_list);
  IF mode NOT IN ('distributed', 'nondistributed') THEN
    RAISE EXCEPTION 'invalid execution mode "%" for procedure "%": must be distributed or nondistributed',
      mode, p_name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  params := procgate_internal.parameter_list(p_name, p_parameters, p_defaults);
  proc_options := procgate_internal.procedure_options(p_name, p_parameters IS NULL, p_options, p_defaults);
  PERFORM procgate_internal.check_set_environment(proc_options -> 'set_environment' ->> 'value');
  IF lang = 'type' THEN
    PERFORM procgate_internal.check_type_definition(p_type_name, p_parameters IS NULL, proc_options);
  END IF;
  columns := procgate_internal.return_columns(p_name, p_returns);
  files := procgate_internal.check_files(p_name, p_files);

  SELECT * INTO existing FROM procgate_internal.procedures p WHERE p.name = p_name FOR UPDATE;
  IF FOUND THEN
    IF NOT coalesce(p_or_replace, false) THEN
      RAISE EXCEPTION 'procedure "%" already exists', p_name
        USING ERRCODE = 'duplicate_function', HINT = 'Use CREATE OR REPLACE PROCEDURE to replace it.';
    END IF;
    -- As for PostgreSQL's functions, replacing keeps the owner, grants and creation time.
    PERFORM procgate_internal.check_may_manage(caller, existing);
    UPDATE procgate_internal.procedures p
       SET language = lang, type_name = p_type_name, command = p_command, args = arg_list,
           execution_mode = mode, parameters = params, returns = columns, options = proc_options
     WHERE p.id = existing.id;
    DELETE FROM procgate_internal.procedure_files f WHERE f.procedure_id = existing.id;
    proc_id := existing.id;
  ELSE
    INSERT INTO procgate_internal.procedures AS p
           (name, language, type_name, command, args, execution_mode, parameters, returns, options, owner)
    VALUES (p_name, lang, p_type_name, p_command, arg_list, mode, params, columns, proc_options, caller)
    ON CONFLICT (name) DO NOTHING
    RETURNING p.id INTO proc_id;
    IF proc_id IS NULL THEN
      RAISE EXCEPTION 'procedure "%" already exists', p_name USING ERRCODE = 'duplicate_function';
    END IF;
  END IF;
  INSERT INTO procgate_internal.procedure_files (procedure_id, path, content)
  SELECT proc_id, f.path, f.content FROM unnest(files) f;
  PERFORM pg_notify('procgate_catalog', p_name);

  IF coalesce((proc_options -> 'run_on_creation' ->> 'value')::boolean, false) THEN
    PERFORM procgate_internal.start_run(
      procgate_internal.find_procedure(p_name), caller, '{}', '{}', '{}', procgate_internal.run_options(caller, '{}'));
  END IF;
  RETURN QUERY SELECT * FROM procgate.procedures v WHERE v.name = p_name;
END
$fn$;


CREATE TABLE procgate_internal.startup_runs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  procedure_id bigint NOT NULL REFERENCES procgate_internal.procedures (id) ON DELETE CASCADE,
  run_tag text,
  -- As in runs: the arguments as evaluated at registration, merged over the defaults.
  params jsonb NOT NULL DEFAULT '{}',
  input_queries jsonb NOT NULL DEFAULT '[]',
  output_tables text[] NOT NULL DEFAULT '{}',
  -- The options as given, execute_at_startup included; the runs get them without it.
  options jsonb NOT NULL DEFAULT '{}',
  submitted_by name NOT NULL,
  -- The submitter of the runs it starts.
  run_as name NOT NULL,
  created_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  -- Also the index ON DELETE CASCADE of a dropped procedure uses.
  UNIQUE (procedure_id, submitted_by)
);

CREATE VIEW procgate.startup_runs WITH (security_barrier) AS
SELECT
  s.id,
  p.name AS procedure,
  s.run_tag,
  s.params,
  s.input_queries,
  s.output_tables,
  s.options,
  s.submitted_by,
  s.run_as,
  s.created_at
FROM procgate_internal.startup_runs s
JOIN procgate_internal.procedures p ON p.id = s.procedure_id
WHERE (s.submitted_by = current_user OR pg_catalog.pg_has_role(current_user, 'procgate_admin', 'MEMBER'));

COMMENT ON VIEW procgate.startup_runs IS
  'procgate: runs you registered with execute_at_startup (every one for procgate_admin); each engine start queues them';

CREATE TRIGGER read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON procgate.startup_runs
  FOR EACH ROW EXECUTE FUNCTION procgate_internal.reject_view_write();

-- EXECUTE with execute_at_startup: checks the invocation as for a run and
-- keeps it, replacing the caller's earlier registration for the procedure.
CREATE FUNCTION procgate_internal.register_startup_run(
  proc procgate_internal.procedures, caller name, given jsonb, tables procgate.table_value[],
  output_tables text[], options jsonb
) RETURNS procgate_internal.startup_runs
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  inputs jsonb := procgate_internal.resolve_tables(proc, tables);
  startup_as name := coalesce(options -> 'execute_at_startup_as' ->> 'value', caller);
  registered procgate_internal.startup_runs;
BEGIN
  PERFORM procgate_internal.check_output_tables(proc, output_tables);
  -- The runs will act as that role (run_options checked the caller may), so it needs EXECUTE too.
  IF startup_as <> caller THEN
    PERFORM procgate_internal.check_may_execute(startup_as, proc);
  END IF;
  INSERT INTO procgate_internal.startup_runs AS s
         (procedure_id, run_tag, params, input_queries, output_tables, options, submitted_by, run_as)
  VALUES (proc.id, options -> 'run_tag' ->> 'value', procgate_internal.complete_params(proc, given, inputs),
          inputs, coalesce(output_tables, '{}'), options, caller, startup_as)
  ON CONFLICT (procedure_id, submitted_by) DO UPDATE
     SET run_tag = EXCLUDED.run_tag, params = EXCLUDED.params, input_queries = EXCLUDED.input_queries,
         output_tables = EXCLUDED.output_tables, options = EXCLUDED.options, run_as = EXCLUDED.run_as,
         created_at = EXCLUDED.created_at
  RETURNING s.* INTO registered;
  RETURN registered;
END
$fn$;

-- As KILL RUN: the submitter, a superuser or a member of procgate_admin.
CREATE FUNCTION procgate_internal.api_drop_startup_run(caller name, p_id bigint)
RETURNS TABLE (id bigint, procedure text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  registration record;
BEGIN
  PERFORM procgate_internal.check_caller(caller);
  SELECT s.id, s.submitted_by, p.name INTO registration
    FROM procgate_internal.startup_runs s
    JOIN procgate_internal.procedures p ON p.id = s.procedure_id
   WHERE s.id = p_id
     FOR UPDATE OF s;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'startup run % does not exist', coalesce(p_id::text, 'NULL') USING ERRCODE = 'undefined_object';
  END IF;
  IF registration.submitted_by <> caller AND NOT procgate_internal.is_admin(caller) THEN
    RAISE EXCEPTION 'permission denied to drop startup run %', p_id
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'Only the submitter, a superuser or a member of procgate_admin can drop a startup run.';
  END IF;
  DELETE FROM procgate_internal.startup_runs s WHERE s.id = registration.id;
  id := registration.id;
  procedure := registration.name;
  RETURN NEXT;
END
$fn$;


-- The parameter an argument is for: its name, or the declared parameter at its position.
CREATE FUNCTION procgate_internal.argument_name(
  proc procgate_internal.procedures, arg_name text, arg_position int
) RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF (arg_name IS NULL) = (arg_position IS NULL) OR arg_name = '' THEN
    RAISE EXCEPTION 'an argument of procedure "%" needs either a name or a position', proc.name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF arg_name IS NOT NULL THEN
    RETURN arg_name;
  END IF;
  IF proc.parameters IS NULL THEN
    RAISE EXCEPTION 'positional argument % of procedure "%": positional arguments need a parameter list',
      arg_position, proc.name
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Name the argument (name => value), or create the procedure with a parameter list.';
  END IF;
  IF arg_position < 1 OR arg_position > jsonb_array_length(proc.parameters) THEN
    RAISE EXCEPTION 'positional argument % but procedure "%" declares % parameters',
      arg_position, proc.name, jsonb_array_length(proc.parameters)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN proc.parameters -> (arg_position - 1) ->> 'name';
END
$fn$;

CREATE FUNCTION procgate_internal.declared_parameter(proc procgate_internal.procedures, param_name text)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  declared jsonb;
BEGIN
  SELECT d.value INTO declared FROM jsonb_array_elements(proc.parameters) d WHERE d.value ->> 'name' = param_name;
  IF declared IS NULL THEN
    RAISE EXCEPTION 'procedure "%" has no parameter "%"', proc.name, param_name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN declared;
END
$fn$;

-- TABLE arguments as stored: [{"name", "query", "placeholders", "partition_by"}].
-- A nondistributed run ignores them (as Kinetica does), so they are kept as given.
CREATE FUNCTION procgate_internal.resolve_tables(
  proc procgate_internal.procedures, tables procgate.table_value[]
) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  t procgate.table_value;
  param_name text;
  seen text[] := '{}';
  resolved jsonb := '[]';
BEGIN
  FOREACH t IN ARRAY coalesce(tables, '{}') LOOP
    IF coalesce(t.query, '') = '' THEN
      RAISE EXCEPTION 'TABLE argument % of procedure "%" has no query', coalesce(t.name, t.position::text), proc.name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_typeof(t.placeholders) IS DISTINCT FROM 'object' AND t.placeholders IS NOT NULL THEN
      RAISE EXCEPTION 'placeholders of TABLE argument % of procedure "%" must be a JSON object',
        coalesce(t.name, t.position::text), proc.name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF proc.execution_mode = 'distributed' THEN
      param_name := procgate_internal.argument_name(proc, t.name, t.position);
      IF proc.parameters IS NOT NULL
         AND NOT (procgate_internal.declared_parameter(proc, param_name) ->> 'table')::boolean THEN
        RAISE EXCEPTION 'parameter "%" of procedure "%" is not a table parameter', param_name, proc.name
          USING ERRCODE = 'invalid_parameter_value';
      END IF;
      IF param_name = ANY (seen) THEN
        RAISE EXCEPTION 'parameter "%" of procedure "%" is given more than once', param_name, proc.name
          USING ERRCODE = 'invalid_parameter_value';
      END IF;
      seen := seen || param_name;
    ELSE
      param_name := coalesce(t.name, proc.parameters -> (t.position - 1) ->> 'name');
    END IF;
    resolved := resolved || jsonb_build_array(jsonb_build_object(
      'name', param_name,
      'query', t.query,
      'placeholders', coalesce(t.placeholders, '{}'),
      'partition_by', to_jsonb(coalesce(t.partition_by, '{}'))));
  END LOOP;
  RETURN resolved;
END
$fn$;

-- The scalar arguments to convert: each to its declared type, or, for a
-- free-form procedure, kept in its own type.
CREATE FUNCTION procgate_internal.api_plan_args(
  caller name, p_name text, p_args procgate.arg_value[], p_tables procgate.table_value[]
) RETURNS TABLE (param text, value jsonb, source regtype, target regtype, what text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  proc procgate_internal.procedures;
  a procgate.arg_value;
  declared jsonb;
  param_name text;
  taken text[];
BEGIN
  PERFORM procgate_internal.check_caller(caller);
  proc := procgate_internal.find_procedure(p_name);
  PERFORM procgate_internal.check_may_execute(caller, proc);
  SELECT coalesce(array_agg(q.value ->> 'name'), '{}') INTO taken
    FROM jsonb_array_elements(procgate_internal.resolve_tables(proc, p_tables)) q
   WHERE q.value ->> 'name' IS NOT NULL;
  FOREACH a IN ARRAY coalesce(p_args, '{}') LOOP
    param_name := procgate_internal.argument_name(proc, a.name, a.position);
    declared := NULL;
    IF proc.parameters IS NOT NULL THEN
      declared := procgate_internal.declared_parameter(proc, param_name);
      IF (declared ->> 'table')::boolean THEN
        RAISE EXCEPTION 'parameter "%" of procedure "%" is a table parameter', param_name, proc.name
          USING ERRCODE = 'invalid_parameter_value',
                HINT = 'Pass a table as TABLE (name) or TABLE (SELECT ...).';
      END IF;
    END IF;
    IF param_name = ANY (taken) THEN
      RAISE EXCEPTION 'parameter "%" of procedure "%" is given more than once', param_name, proc.name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    taken := taken || param_name;
    param := param_name;
    value := a.value;
    source := a.type;
    target := coalesce((declared ->> 'type')::regtype, a.type, 'jsonb'::regtype);
    what := format('parameter "%s" of procedure "%s"', param_name, proc.name);
    RETURN NEXT;
  END LOOP;
END
$fn$;

-- The run's parameters: the converted arguments over the defaults. Every
-- declared parameter needs a value; TABLE parameters of a distributed run a table.
CREATE FUNCTION procgate_internal.complete_params(
  proc procgate_internal.procedures, given jsonb, inputs jsonb
) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  declared jsonb;
  param_name text;
  params jsonb := '{}';
BEGIN
  given := coalesce(given, '{}');
  IF proc.parameters IS NULL THEN
    SELECT coalesce(jsonb_object_agg(o.key, o.value), '{}') INTO params
      FROM jsonb_each(proc.options) o
     WHERE o.key <> ALL (procgate_internal.procedure_option_keys());
    RETURN params || given;
  END IF;
  -- cast_to gave each argument its declared type; anything else did not come through it.
  FOR param_name IN SELECT jsonb_object_keys(given) LOOP
    declared := procgate_internal.declared_parameter(proc, param_name);
    IF (declared ->> 'table')::boolean OR declared ->> 'type' IS DISTINCT FROM given -> param_name ->> 'type' THEN
      RAISE EXCEPTION 'argument "%" does not match parameter "%" of procedure "%"', param_name, param_name, proc.name
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END LOOP;
  FOR declared IN SELECT d.value FROM jsonb_array_elements(proc.parameters) d LOOP
    param_name := declared ->> 'name';
    IF (declared ->> 'table')::boolean THEN
      CONTINUE WHEN proc.execution_mode = 'nondistributed'
        OR EXISTS (SELECT FROM jsonb_array_elements(inputs) q WHERE q.value ->> 'name' = param_name);
    ELSIF given ? param_name THEN
      params := params || jsonb_build_object(param_name, given -> param_name);
      CONTINUE;
    ELSIF declared ? 'default' THEN
      params := params || jsonb_build_object(param_name,
        jsonb_build_object('value', declared -> 'default', 'type', declared -> 'type'));
      CONTINUE;
    END IF;
    RAISE EXCEPTION 'missing value for parameter "%" of procedure "%"', param_name, proc.name
      USING ERRCODE = 'invalid_parameter_value';
  END LOOP;
  RETURN params;
END
$fn$;

-- A run's options, typed, with max_output_lines defaulting to 100 as in Kinetica.
CREATE FUNCTION procgate_internal.run_options(caller name, options procgate.arg_value[]) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  opt procgate.arg_value;
  typed jsonb;
  result jsonb := '{"max_output_lines": {"value": 100, "type": "integer"}}';
BEGIN
  PERFORM procgate_internal.check_option_names(options);
  FOREACH opt IN ARRAY coalesce(options, '{}') LOOP
    typed := CASE opt.name
      WHEN 'run_tag' THEN procgate_internal.option_text(opt)
      WHEN 'max_output_lines' THEN procgate_internal.option_integer(opt, 1)
      WHEN 'execute_at_startup' THEN procgate_internal.option_boolean(opt)
      WHEN 'execute_at_startup_as' THEN procgate_internal.option_text(opt)
      WHEN 'segments' THEN procgate_internal.option_integer(opt, 1)
      WHEN 'retries' THEN procgate_internal.option_integer(opt, 0)
      WHEN 'timeout' THEN procgate_internal.option_interval(opt)
    END;
    IF typed IS NULL THEN
      RAISE EXCEPTION 'unknown option "%" for EXECUTE PROCEDURE', opt.name
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Run options are run_tag, max_output_lines, execute_at_startup, execute_at_startup_as, segments, retries and timeout.';
    END IF;
    IF opt.name = 'execute_at_startup_as' THEN
      IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname = typed ->> 'value') THEN
        RAISE EXCEPTION 'invalid value for option "execute_at_startup_as": role "%" does not exist', typed ->> 'value'
          USING ERRCODE = 'invalid_parameter_value';
      END IF;
      -- The run will act as that role, so the caller must be able to.
      IF NOT procgate_internal.has_role(caller, typed ->> 'value', 'MEMBER') THEN
        RAISE EXCEPTION 'permission denied to execute as role "%"', typed ->> 'value'
          USING ERRCODE = 'insufficient_privilege';
      END IF;
    END IF;
    result := result || jsonb_build_object(opt.name, typed);
  END LOOP;
  RETURN result;
END
$fn$;

CREATE FUNCTION procgate_internal.check_output_tables(proc procgate_internal.procedures, output_tables text[])
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF array_position(output_tables, NULL) IS NOT NULL OR '' = ANY (output_tables) THEN
    RAISE EXCEPTION 'INTO of procedure "%" names an empty table', proc.name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
END
$fn$;

-- Inserts a queued run of checked values. The notification is delivered at
-- commit, so a rolled-back EXECUTE wakes no engine and leaves no run.
CREATE FUNCTION procgate_internal.queue_run(
  proc procgate_internal.procedures, submitter name, tag text, params jsonb, inputs jsonb,
  output_tables text[], options jsonb
) RETURNS procgate_internal.runs
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  run procgate_internal.runs;
BEGIN
  PERFORM procgate_internal.check_type_invocation(proc, params, inputs);
  INSERT INTO procgate_internal.runs AS r
         (procedure_id, procedure, run_tag, params, input_queries, output_tables, options, submitted_by)
  VALUES (proc.id, proc.name, tag, params, inputs, coalesce(output_tables, '{}'), options, submitter)
  RETURNING r.* INTO run;
  PERFORM pg_notify('procgate_runs', run.run_id::text);
  RETURN run;
END
$fn$;

-- Checks an invocation and queues its run.
CREATE FUNCTION procgate_internal.start_run(
  proc procgate_internal.procedures, caller name, given jsonb, tables procgate.table_value[],
  output_tables text[], options jsonb
) RETURNS procgate_internal.runs
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  inputs jsonb := procgate_internal.resolve_tables(proc, tables);
BEGIN
  PERFORM procgate_internal.check_output_tables(proc, output_tables);
  RETURN procgate_internal.queue_run(
    proc, caller, options -> 'run_tag' ->> 'value', procgate_internal.complete_params(proc, given, inputs),
    inputs, output_tables, options);
END
$fn$;

CREATE FUNCTION procgate_internal.api_execute(
  caller name, p_name text, p_params jsonb, p_tables procgate.table_value[], p_into text[],
  p_options procgate.arg_value[]
) RETURNS TABLE (run_id uuid, procedure text, state text, run_tag text, created_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  proc procgate_internal.procedures;
  options jsonb;
  registered procgate_internal.startup_runs;
  run procgate_internal.runs;
BEGIN
  PERFORM procgate_internal.check_caller(caller);
  proc := procgate_internal.find_procedure(p_name);
  PERFORM procgate_internal.check_may_execute(caller, proc);
  options := procgate_internal.run_options(caller, p_options);
  -- No run now: the invocation is kept, and each engine start queues a run of it.
  -- The usual row tells psql so: no run id yet, state 'at startup'.
  IF coalesce((options -> 'execute_at_startup' ->> 'value')::boolean, false) THEN
    registered := procgate_internal.register_startup_run(proc, caller, p_params, p_tables, p_into, options);
    run_id := NULL;
    procedure := proc.name;
    state := 'at startup';
    run_tag := registered.run_tag;
    created_at := registered.created_at;
    RETURN NEXT;
    RETURN;
  END IF;
  run := procgate_internal.start_run(proc, caller, p_params, p_tables, p_into, options);
  run_id := run.run_id;
  procedure := run.procedure;
  state := run.state;
  run_tag := run.run_tag;
  created_at := run.created_at;
  RETURN NEXT;
END
$fn$;


-- A queued run is killed at once; a running one is asked to stop
-- (cancelling) and the engine finishes it. Finished runs stay as they are.
CREATE FUNCTION procgate_internal.kill_runs_by_id(ids uuid[])
RETURNS TABLE (run_id uuid, state text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  changed record;
BEGIN
  FOR changed IN
    UPDATE procgate_internal.runs r
       SET state = CASE WHEN r.state = 'queued' THEN 'killed' ELSE 'cancelling' END,
           finished_at = CASE WHEN r.state = 'queued' THEN clock_timestamp() ELSE r.finished_at END
     WHERE r.run_id = ANY (ids) AND r.state IN ('queued', 'running')
    RETURNING r.run_id, r.state
  LOOP
    IF changed.state = 'killed' THEN
      UPDATE procgate_internal.run_segments s
         SET state = 'killed', finished_at = clock_timestamp()
       WHERE s.run_id = changed.run_id AND s.state = 'queued';
    END IF;
    -- "kill:": engines look for segments to stop; other payloads only mean work.
    PERFORM pg_notify('procgate_runs', 'kill:' || changed.run_id::text);
    run_id := changed.run_id;
    state := changed.state;
    RETURN NEXT;
  END LOOP;
END
$fn$;

CREATE FUNCTION procgate_internal.api_kill_run(caller name, p_run_id uuid)
RETURNS TABLE (run_id uuid, state text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  submitter name;
BEGIN
  PERFORM procgate_internal.check_caller(caller);
  SELECT r.submitted_by INTO submitter FROM procgate_internal.runs r WHERE r.run_id = p_run_id;
  -- Kinetica's semantics: killing an unknown run is not an error; nothing is listed.
  IF NOT FOUND THEN
    RETURN;
  END IF;
  IF submitter <> caller AND NOT procgate_internal.is_admin(caller) THEN
    RAISE EXCEPTION 'permission denied to kill run "%"', p_run_id
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'Only the submitter, a superuser or a member of procgate_admin can kill a run.';
  END IF;
  RETURN QUERY SELECT * FROM procgate_internal.kill_runs_by_id(ARRAY[p_run_id]);
END
$fn$;

-- Without a procedure or tag: every active run the caller may kill.
CREATE FUNCTION procgate_internal.api_kill_runs(caller name, p_procedure text, p_run_tag text)
RETURNS TABLE (run_id uuid, state text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  PERFORM procgate_internal.check_caller(caller);
  IF p_procedure IS NOT NULL THEN
    PERFORM procgate_internal.find_procedure(p_procedure);
  END IF;
  RETURN QUERY SELECT * FROM procgate_internal.kill_runs_by_id(ARRAY(
    SELECT r.run_id FROM procgate_internal.runs r
     WHERE r.state IN ('queued', 'running')
       AND (p_procedure IS NULL OR r.procedure = p_procedure)
       AND (p_run_tag IS NULL OR r.run_tag = p_run_tag)
       AND (r.submitted_by = caller OR procgate_internal.is_admin(caller))
     ORDER BY r.created_at));
END
$fn$;

-- Dropping a procedure kills all of its runs, whoever submitted them.
CREATE FUNCTION procgate_internal.api_drop_procedure(caller name, p_name text, p_if_exists boolean)
RETURNS TABLE (procedure text, runs_killed int)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  proc procgate_internal.procedures;
  killed int;
BEGIN
  PERFORM procgate_internal.check_caller(caller);
  IF coalesce(p_if_exists, false)
     AND NOT EXISTS (SELECT FROM procgate_internal.procedures p WHERE p.name = p_name) THEN
    RAISE NOTICE 'procedure "%" does not exist, skipping', p_name;
    RETURN;
  END IF;
  proc := procgate_internal.find_procedure(p_name, true);
  PERFORM procgate_internal.check_may_manage(caller, proc);
  SELECT count(*) INTO killed FROM procgate_internal.kill_runs_by_id(ARRAY(
    SELECT r.run_id FROM procgate_internal.runs r
     WHERE r.procedure_id = proc.id AND r.state IN ('queued', 'running')));
  DELETE FROM procgate_internal.procedures p WHERE p.id = proc.id;
  PERFORM pg_notify('procgate_catalog', proc.name);
  procedure := proc.name;
  runs_killed := killed;
  RETURN NEXT;
END
$fn$;

-- The role to grant to: 'public' or an existing role.
CREATE FUNCTION procgate_internal.grantee(role_name text) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF lower(role_name) = 'public' THEN
    RETURN 'public';
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname = role_name) THEN
    RAISE EXCEPTION 'role "%" does not exist', coalesce(role_name, '') USING ERRCODE = 'undefined_object';
  END IF;
  RETURN role_name;
END
$fn$;

CREATE FUNCTION procgate_internal.api_set_execute(caller name, p_name text, p_role text, p_grant boolean)
RETURNS TABLE (procedure text, role text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  proc procgate_internal.procedures;
  grantee text;
BEGIN
  PERFORM procgate_internal.check_caller(caller);
  proc := procgate_internal.find_procedure(p_name, true);
  PERFORM procgate_internal.check_may_manage(caller, proc);
  grantee := procgate_internal.grantee(p_role);
  UPDATE procgate_internal.procedures p
     SET execute_roles = CASE
           WHEN NOT p_grant THEN array_remove(p.execute_roles, grantee)
           WHEN grantee = ANY (p.execute_roles) THEN p.execute_roles
           ELSE p.execute_roles || grantee END
   WHERE p.id = proc.id;
  PERFORM pg_notify('procgate_catalog', proc.name);
  procedure := proc.name;
  role := grantee;
  RETURN NEXT;
END
$fn$;


CREATE TABLE procgate_internal.environments (
  name text PRIMARY KEY CHECK (name <> ''),
  -- {"NAME": "value"}: strings only, names checked by api_create_environment.
  variables jsonb NOT NULL DEFAULT '{}'
    CHECK (pg_catalog.jsonb_typeof(variables) = 'object'
           AND NOT pg_catalog.jsonb_path_exists(variables, '$.* ? (@.type() != "string")')),
  -- Absolute directories put before the engine's PATH, in this order.
  path_prefix text[] NOT NULL DEFAULT '{}' CHECK (pg_catalog.array_position(path_prefix, NULL) IS NULL),
  owner name NOT NULL,
  created_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);

CREATE VIEW procgate.environments AS
SELECT e.name, e.variables, e.path_prefix, e.owner, e.created_at
FROM procgate_internal.environments e;

COMMENT ON VIEW procgate.environments IS
  'procgate: registered environments (variables and PATH prefix) for set_environment';

CREATE FUNCTION procgate_internal.reject_environment_write() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  RAISE EXCEPTION 'procgate.% is read-only', TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'Environments change through procgate.create_environment and procgate.drop_environment.';
END
$fn$;

CREATE TRIGGER read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON procgate.environments
  FOR EACH ROW EXECUTE FUNCTION procgate_internal.reject_environment_write();

CREATE FUNCTION procgate_internal.check_may_manage_environments(caller name, env_name text)
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
CREATE FUNCTION procgate_internal.check_environment_variables(env_name text, variables jsonb)
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

CREATE FUNCTION procgate_internal.check_path_prefix(env_name text, path_prefix text[])
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
CREATE FUNCTION procgate_internal.api_create_environment(
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
CREATE FUNCTION procgate_internal.api_drop_environment(caller name, p_name text, p_if_exists boolean)
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
CREATE FUNCTION procgate_internal.check_set_environment(env_name text)
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

CREATE FUNCTION procgate.create_environment(
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

CREATE FUNCTION procgate.drop_environment(name text, if_exists boolean DEFAULT false)
RETURNS TABLE (environment text)
LANGUAGE sql
BEGIN ATOMIC
  SELECT d.environment FROM procgate_internal.api_drop_environment(current_user, $1, $2) d;
END;
COMMENT ON FUNCTION procgate.drop_environment(text, boolean)
  IS 'drops an environment no procedure uses (superusers and procgate_admin)';


CREATE FUNCTION procgate.create_procedure(
  name text, or_replace boolean DEFAULT false, language text DEFAULT NULL, type_name text DEFAULT NULL,
  command text DEFAULT NULL, args text[] DEFAULT NULL, execution_mode text DEFAULT NULL,
  parameters procgate.param_def[] DEFAULT NULL, files procgate.file_value[] DEFAULT NULL,
  returns procgate.column_def[] DEFAULT NULL, options procgate.arg_value[] DEFAULT NULL
) RETURNS SETOF procgate.procedures
LANGUAGE sql
BEGIN ATOMIC
  SELECT c.*
    FROM procgate_internal.api_create_procedure(
      current_user, create_procedure.name, create_procedure.or_replace, create_procedure.language,
      create_procedure.type_name, create_procedure.command, create_procedure.args,
      create_procedure.execution_mode, create_procedure.parameters,
      (SELECT coalesce(pg_catalog.jsonb_object_agg(
                d.param, procgate_internal.cast_to(d.value, d.source, d.target, d.what)), '{}'::jsonb)
         FROM procgate_internal.api_plan_defaults(
           create_procedure.name, create_procedure.parameters, create_procedure.options) d),
      create_procedure.files, create_procedure.returns, create_procedure.options) c;
END;
COMMENT ON FUNCTION procgate.create_procedure(text, boolean, text, text, text, text[], text,
  procgate.param_def[], procgate.file_value[], procgate.column_def[], procgate.arg_value[])
  IS 'CREATE [OR REPLACE] PROCEDURE';


CREATE FUNCTION procgate.execute(
  name text, args procgate.arg_value[] DEFAULT NULL, tables procgate.table_value[] DEFAULT NULL,
  "into" text[] DEFAULT NULL, options procgate.arg_value[] DEFAULT NULL
) RETURNS TABLE (run_id uuid, procedure text, state text, run_tag text, created_at timestamptz)
LANGUAGE sql
BEGIN ATOMIC
  SELECT e.run_id, e.procedure, e.state, e.run_tag, e.created_at
    FROM procgate_internal.api_execute(
      current_user, execute.name, 
      (SELECT coalesce(pg_catalog.jsonb_object_agg(
                a.param, procgate_internal.cast_to(a.value, a.source, a.target, a.what)), '{}'::jsonb)
         FROM procgate_internal.api_plan_args(current_user, execute.name, execute.args, execute.tables) a),
      execute.tables, execute."into", execute.options) e;
END;
COMMENT ON FUNCTION procgate.execute(text, procgate.arg_value[], procgate.table_value[], text[], procgate.arg_value[])
  IS 'EXECUTE PROCEDURE: queues a run and returns it';


CREATE FUNCTION procgate.kill_run(run_id uuid) RETURNS TABLE (run_id uuid, state text)
LANGUAGE sql
BEGIN ATOMIC
  SELECT k.run_id, k.state FROM procgate_internal.api_kill_run(current_user, $1) k;
END;
COMMENT ON FUNCTION procgate.kill_run(uuid) IS 'KILL RUN';

CREATE FUNCTION procgate.kill_runs(procedure text DEFAULT NULL, run_tag text DEFAULT NULL)
RETURNS TABLE (run_id uuid, state text)
LANGUAGE sql
BEGIN ATOMIC
  SELECT k.run_id, k.state FROM procgate_internal.api_kill_runs(current_user, $1, $2) k;
END;
COMMENT ON FUNCTION procgate.kill_runs(text, text) IS 'KILL RUNS [OF PROCEDURE name] [WITH (run_tag = ...)]';

CREATE FUNCTION procgate.drop_procedure(name text, if_exists boolean DEFAULT false)
RETURNS TABLE (procedure text, runs_killed int)
LANGUAGE sql
BEGIN ATOMIC
  SELECT d.procedure, d.runs_killed FROM procgate_internal.api_drop_procedure(current_user, $1, $2) d;
END;
COMMENT ON FUNCTION procgate.drop_procedure(text, boolean) IS 'DROP PROCEDURE [IF EXISTS]: kills its runs';

CREATE FUNCTION procgate.drop_startup_run(id bigint) RETURNS TABLE (id bigint, procedure text)
LANGUAGE sql
BEGIN ATOMIC
  SELECT d.id, d.procedure FROM procgate_internal.api_drop_startup_run(current_user, $1) d;
END;
COMMENT ON FUNCTION procgate.drop_startup_run(bigint)
  IS 'Removes a registration of EXECUTE PROCEDURE ... WITH (execute_at_startup = true) (procgate.startup_runs)';

CREATE FUNCTION procgate.grant_execute(name text, role text) RETURNS TABLE (procedure text, role text)
LANGUAGE sql
BEGIN ATOMIC
  SELECT g.procedure, g.role FROM procgate_internal.api_set_execute(current_user, $1, $2, true) g;
END;
COMMENT ON FUNCTION procgate.grant_execute(text, text) IS 'GRANT EXECUTE ON PROCEDURE name TO role';

CREATE FUNCTION procgate.revoke_execute(name text, role text) RETURNS TABLE (procedure text, role text)
LANGUAGE sql
BEGIN ATOMIC
  SELECT g.procedure, g.role FROM procgate_internal.api_set_execute(current_user, $1, $2, false) g;
END;
COMMENT ON FUNCTION procgate.revoke_execute(text, text) IS 'REVOKE EXECUTE ON PROCEDURE name FROM role';

CREATE FUNCTION procgate.show_procedures() RETURNS SETOF procgate.procedures
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT * FROM procgate.procedures p ORDER BY p.name;
END;
COMMENT ON FUNCTION procgate.show_procedures() IS 'SHOW PROCEDURES';

-- The show functions read the views as the caller, so they show what the caller may see.
CREATE FUNCTION procgate.show_procedure(name text) RETURNS SETOF procgate.procedures
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  RETURN QUERY SELECT * FROM procgate.procedures p WHERE p.name = $1;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'procedure "%" does not exist', $1 USING ERRCODE = 'undefined_function';
  END IF;
END
$fn$;
COMMENT ON FUNCTION procgate.show_procedure(text) IS 'SHOW PROCEDURE name';

CREATE FUNCTION procgate.show_procedure_status(run_id uuid DEFAULT NULL, run_tag text DEFAULT NULL)
RETURNS SETOF procgate.runs
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  RETURN QUERY
    SELECT * FROM procgate.runs r
     WHERE ($1 IS NULL OR r.run_id = $1) AND ($2 IS NULL OR r.run_tag = $2)
     ORDER BY r.created_at;
  IF NOT FOUND AND $1 IS NOT NULL THEN
    RAISE EXCEPTION 'run "%" does not exist', $1 USING ERRCODE = 'undefined_object';
  END IF;
END
$fn$;
COMMENT ON FUNCTION procgate.show_procedure_status(uuid, text) IS 'SHOW PROCEDURE STATUS [run_id] [WITH (run_tag = ...)]';


REVOKE ALL ON ALL TABLES IN SCHEMA procgate_internal FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA procgate_internal FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA procgate_internal FROM PUBLIC;

DO $grants$
DECLARE
  fn regprocedure;
BEGIN
  FOR fn IN
    SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
     WHERE p.pronamespace = 'procgate_internal'::regnamespace
       AND (pg_catalog.left(p.proname, 4) = 'api_' OR p.proname = 'cast_to')
  LOOP
    EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO PUBLIC', fn);
  END LOOP;
END
$grants$;

REVOKE ALL ON procgate.procedures, procgate.runs, procgate.run_segments, procgate.run_output,
  procgate.environments, procgate.startup_runs FROM PUBLIC;
GRANT SELECT ON procgate.procedures, procgate.runs, procgate.run_segments, procgate.run_output,
  procgate.environments, procgate.startup_runs TO PUBLIC;


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


-- EXECUTE of a TYPE procedure: every argument (defaults included) must be
-- one of the type's parameters, of its kind, and every required parameter
-- without a default given. A procedure with a parameter list of its own was
-- checked against that list too: its names and types must still suit the type.
CREATE FUNCTION procgate_internal.check_type_invocation(
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
