-- GRANT / REVOKE EXECUTE ON PROCEDURE: the owner says who else may run a
-- procedure.

CREATE OR REPLACE FUNCTION procgate_internal.api_set_execute(caller name, p_name text, p_role text, p_grant boolean)
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

CREATE OR REPLACE FUNCTION procgate.grant_execute(name text, role text) RETURNS TABLE (procedure text, role text)
LANGUAGE sql
BEGIN ATOMIC
  SELECT g.procedure, g.role FROM procgate_internal.api_set_execute(current_user, $1, $2, true) g;
END;

COMMENT ON FUNCTION procgate.grant_execute(text, text) IS 'GRANT EXECUTE ON PROCEDURE name TO role';

CREATE OR REPLACE FUNCTION procgate.revoke_execute(name text, role text) RETURNS TABLE (procedure text, role text)
LANGUAGE sql
BEGIN ATOMIC
  SELECT g.procedure, g.role FROM procgate_internal.api_set_execute(current_user, $1, $2, false) g;
END;

COMMENT ON FUNCTION procgate.revoke_execute(text, text) IS 'REVOKE EXECUTE ON PROCEDURE name FROM role';
