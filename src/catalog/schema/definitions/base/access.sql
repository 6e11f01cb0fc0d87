-- Who the caller is and what they may do. The API functions run as the
-- schema owner (SECURITY DEFINER), so the caller's identity arrives as an
-- argument from the procgate wrapper, which passes its current_user; these
-- helpers check that claim and the caller's rights.

-- Whether member has role's privileges, as PostgreSQL checks ownership. A
-- role that no longer exists yields false rather than an error. One
-- expression of qualified names and no operators, without a SET clause, so
-- PostgreSQL inlines it into its callers (a role found in the syscache, no
-- query of pg_roles).
CREATE OR REPLACE FUNCTION procgate_internal.has_role(member name, role text, mode text DEFAULT 'USAGE')
RETURNS boolean
LANGUAGE sql STABLE
AS $fn$
  SELECT coalesce(
    pg_catalog.pg_has_role($1, pg_catalog.to_regrole(pg_catalog.quote_ident($2)), $3), false)
$fn$;

-- Superusers are members of every role, so this covers them too. Inlined
-- as has_role is.
CREATE OR REPLACE FUNCTION procgate_internal.is_admin(caller name) RETURNS boolean
LANGUAGE sql STABLE
AS $fn$ SELECT procgate_internal.has_role($1, 'procgate_admin', 'MEMBER') $fn$;

-- A superuser's code may run with procgate's rights: it has them already.
CREATE OR REPLACE FUNCTION procgate_internal.is_superuser(caller name) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$ SELECT coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = $1), false) $fn$;

-- The claimed caller must be a role the session may become: a session
-- cannot record someone else as the submitter or owner.
CREATE OR REPLACE FUNCTION procgate_internal.check_caller(claimed name) RETURNS name
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  -- A session is always itself: the usual caller needs no catalog lookup.
  IF claimed IS NULL
     OR (claimed <> session_user AND NOT procgate_internal.has_role(session_user, claimed, 'MEMBER')) THEN
    RAISE EXCEPTION 'permission denied to act as role "%"', claimed
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN claimed;
END
$fn$;

CREATE OR REPLACE FUNCTION procgate_internal.find_procedure(proc_name text, for_update boolean DEFAULT false)
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

-- Whether caller has the privileges of any of roles (a grantee list).
CREATE OR REPLACE FUNCTION procgate_internal.has_any_role(caller name, roles text[]) RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  role text;
BEGIN
  FOREACH role IN ARRAY roles LOOP
    IF procgate_internal.has_role(caller, role) THEN
      RETURN true;
    END IF;
  END LOOP;
  RETURN false;
END
$fn$;

-- Owner (or a member of the owning role), admin, or a grantee of EXECUTE.
-- The checks that need no catalog lookup come first: the owner itself and
-- a grant to public decide most EXECUTEs without a role lookup. One
-- expression of qualified names and operators, without a SET clause, so
-- PostgreSQL inlines it into check_may_execute's kept plan instead of
-- planning a SQL function's body on every call.
CREATE OR REPLACE FUNCTION procgate_internal.may_execute(caller name, proc procgate_internal.procedures)
RETURNS boolean
LANGUAGE sql STABLE
AS $fn$
  SELECT $1 OPERATOR(pg_catalog.=) ($2).owner
      OR 'public' OPERATOR(pg_catalog.=) ANY (($2).execute_roles)
      OR procgate_internal.has_role($1, ($2).owner)
      OR procgate_internal.is_admin($1)
      OR procgate_internal.has_any_role($1, ($2).execute_roles)
$fn$;

CREATE OR REPLACE FUNCTION procgate_internal.check_may_execute(caller name, proc procgate_internal.procedures)
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
CREATE OR REPLACE FUNCTION procgate_internal.check_may_manage(caller name, proc procgate_internal.procedures)
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

-- The role to grant to: 'public' or an existing role.
CREATE OR REPLACE FUNCTION procgate_internal.grantee(role_name text) RETURNS text
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
