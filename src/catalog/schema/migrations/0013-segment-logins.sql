-- Version 13: each command or javascript segment's own login into the
-- database, as the role that executed the run (definitions/engine/
-- segment-logins.sql). A row per login role that exists: made when the
-- segment first asks for it, gone once the role is dropped. A role whose
-- drop failed stays here, without LOGIN or password, to be tried again.

CREATE TABLE procgate_internal.segment_logins (
  role name PRIMARY KEY,
  -- No foreign key: a login outlives nothing, but it must not vanish with its run's rows either.
  run_id uuid NOT NULL,
  segment int NOT NULL,
  attempt int NOT NULL,
  -- The run's submitted_by, whose rights the login has.
  caller name NOT NULL,
  created_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  -- The last failed drop: when, and PostgreSQL's message.
  drop_failed_at timestamptz,
  drop_error text,
  UNIQUE (run_id, segment, attempt)
);
