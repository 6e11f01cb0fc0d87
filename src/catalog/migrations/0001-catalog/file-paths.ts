/**
 * FILES paths become paths inside each run's working directory, so a path
 * that is absolute or climbs out of it (../x, a/../../x) is refused here,
 * in the function, whatever client called it. A NUL byte cannot reach us:
 * PostgreSQL text cannot hold one, so it fails in the client's own literal.
 */
export const filePaths = `
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
`;
