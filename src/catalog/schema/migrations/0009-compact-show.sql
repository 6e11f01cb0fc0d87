-- Version 9: SHOW PROCEDURES and SHOW PROCEDURE STATUS return a compact
-- set of columns, narrow enough for a terminal; the full rows stay in the
-- views procgate.procedures and procgate.runs. Their result types change,
-- which CREATE OR REPLACE cannot do: they are dropped here and created
-- again by definitions/api/show.sql.
DROP FUNCTION IF EXISTS procgate.show_procedures();
DROP FUNCTION IF EXISTS procgate.show_procedure_status(uuid, text);

-- A row of SHOW PROCEDURE STATUS. A type rather than RETURNS TABLE: its
-- first column, run_id, is also the name of the function's first parameter.
CREATE TYPE procgate.run_status AS (
  run_id uuid,
  procedure text,
  state text,
  progress numeric,
  started timestamptz,
  duration interval,
  error text
);

COMMENT ON TYPE procgate.run_status IS 'procgate: a row of SHOW PROCEDURE STATUS (the full row is in procgate.runs)';
