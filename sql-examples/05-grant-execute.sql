-- GRANT EXECUTE ON PROCEDURE: who may run a procedure. The owner, superusers
-- and members of procgate_admin always may.
CREATE PROCEDURE report TYPE 'sql';
SELECT name, owner FROM procgate.procedures;
GRANT EXECUTE ON PROCEDURE report TO PUBLIC;
REVOKE EXECUTE ON PROCEDURE report FROM PUBLIC;
