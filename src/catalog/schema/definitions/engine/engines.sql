-- The engines: each says, when it starts, who it is and how it isolates
-- users' code (migration 12); its heartbeat (heartbeat.sql) keeps its row
-- fresh, and it leaves when it stops. procgate.engines (base/views.sql)
-- shows them.

-- Registers (or registers again) an engine, and forgets engines that have
-- not been live for a day (killed: they could not leave).
CREATE OR REPLACE FUNCTION procgate_internal.engine_register(
  p_worker text, p_host text, p_pid int, p_slots int, p_isolation text, p_lease interval
) RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
  DELETE FROM procgate_internal.engines e
   WHERE e.heartbeat_at + e.lease < pg_catalog.clock_timestamp() - interval '1 day';
  INSERT INTO procgate_internal.engines AS e (worker, host, pid, slots, isolation, lease)
  VALUES ($1, $2, $3, $4, $5, $6)
  ON CONFLICT (worker) DO UPDATE
    SET host = excluded.host, pid = excluded.pid, slots = excluded.slots, isolation = excluded.isolation,
        lease = excluded.lease, started_at = pg_catalog.clock_timestamp(), heartbeat_at = pg_catalog.clock_timestamp();
$fn$;

CREATE OR REPLACE FUNCTION procgate_internal.engine_unregister(p_worker text) RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
  DELETE FROM procgate_internal.engines e WHERE e.worker = $1;
$fn$;

-- Whether a live engine runs users' code as unprivileged users ('uid') or
-- trusts developers ('trusted'): then non-superusers may create procedures
-- of languages command and javascript.
CREATE OR REPLACE FUNCTION procgate_internal.code_may_run() RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT EXISTS (
    SELECT FROM procgate_internal.engines e
     WHERE e.isolation IN ('uid', 'trusted') AND e.heartbeat_at + e.lease > pg_catalog.clock_timestamp())
$fn$;

-- A procedure's name and owner, and whether the owner is a superuser: an
-- engine that runs users' code as its own user ('none') runs only
-- superusers' code.
CREATE OR REPLACE FUNCTION procgate_internal.engine_procedure_owner(p_procedure_id bigint)
RETURNS TABLE (name text, owner name, superuser boolean)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT p.name, p.owner, procgate_internal.is_superuser(p.owner) FROM procgate_internal.procedures p WHERE p.id = $1
$fn$;
