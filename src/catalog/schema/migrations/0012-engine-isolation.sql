-- Version 12: engines say who they are and how they isolate users' code.
-- An engine registers when it starts, its heartbeat keeps the row fresh,
-- and it leaves when it stops. CREATE PROCEDURE of languages command and
-- javascript by a non-superuser needs a live engine that runs the code as
-- unprivileged users ('uid') or was told to trust developers ('trusted').

CREATE TABLE procgate_internal.engines (
  worker text PRIMARY KEY,
  host text NOT NULL,
  pid int NOT NULL,
  slots int NOT NULL,
  -- 'uid': programs run as unprivileged uids of their own (procgate is root);
  -- 'trusted': as procgate's own user, by --trust-developers;
  -- 'none': as procgate's own user, so only superusers' procedures run.
  isolation text NOT NULL CHECK (isolation IN ('uid', 'trusted', 'none')),
  -- The engine is live while heartbeat_at + lease is ahead.
  lease interval NOT NULL,
  started_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  heartbeat_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
