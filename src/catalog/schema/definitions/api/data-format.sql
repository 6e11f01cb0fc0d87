-- The procedure option data_format: the format of a command program's table
-- files (docs/procedures.md, "Table data"). 'csv' (the default) is
-- PostgreSQL's CSV with a header line; 'binary' is COPY's binary format,
-- which PostgreSQL reads and writes without converting values to text.

CREATE OR REPLACE FUNCTION procgate_internal.option_data_format(opt procgate.arg_value) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  typed jsonb := procgate_internal.option_text(opt);
BEGIN
  IF typed ->> 'value' NOT IN ('csv', 'binary') THEN
    RAISE EXCEPTION 'invalid value for option "data_format": "%"', typed ->> 'value'
      USING ERRCODE = 'invalid_parameter_value', HINT = 'data_format is csv or binary.';
  END IF;
  RETURN typed;
END
$fn$;

-- Only a command program reads and writes table files of a format it chooses.
CREATE OR REPLACE FUNCTION procgate_internal.check_data_format(proc_name text, lang text, format text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
  IF format IS NOT NULL AND lang <> 'command' THEN
    RAISE EXCEPTION 'procedure "%": option data_format is only for language command', proc_name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
END
$fn$;

-- A procedure's data_format; NULL: its executor's own.
CREATE OR REPLACE FUNCTION procgate_internal.engine_data_format(p_procedure_id bigint) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
  SELECT p.options -> 'data_format' ->> 'value' FROM procgate_internal.procedures p WHERE p.id = $1
$fn$;
