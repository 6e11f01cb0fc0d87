/**
 * Roles and schemas. Roles are cluster-wide, so another database's
 * migration may be creating them at this very moment: a concurrent creator
 * makes ours fail with duplicate_object or unique_violation, which only
 * means the role now exists. Only the creator comments on a role, as two
 * concurrent COMMENTs on one shared object would collide too.
 */
export const rolesAndSchemas = `
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
`;
