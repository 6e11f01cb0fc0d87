-- Version 1: roles, schemas and storage: procedures, their files, runs,
-- segments, output lines, startup registrations, environments, procedure
-- types, and the composite types our statements' arguments are built with.
-- Roles are cluster-wide, so another database's migration may be creating
-- them at this very moment: a concurrent creator makes ours fail with
-- duplicate_object or unique_violation, which only means the role exists.

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

COMMENT ON SCHEMA procgate_internal IS 'procgate storage and engine functions; not for users';

CREATE SCHEMA procgate;

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

CREATE TYPE procgate.arg_value AS (name text, "position" int, value jsonb, type regtype);

CREATE TYPE procgate.table_value AS (
  name text, "position" int, query text, placeholders jsonb, partition_by text[]
);

CREATE TYPE procgate.file_value AS (path text, content bytea);

CREATE TYPE procgate.param_def AS (
  name text, type regtype, is_table boolean, has_default boolean, default_value jsonb
);

CREATE TYPE procgate.column_def AS (name text, type regtype);

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

CREATE TABLE procgate_internal.procedure_types (
  name text PRIMARY KEY,
  summary text NOT NULL,
  -- [{"name", "kind", "required", "default"?, "description"}]; kind: table, text, text[], integer, numeric, boolean.
  parameters jsonb NOT NULL
);
