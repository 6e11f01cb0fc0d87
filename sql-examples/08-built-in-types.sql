-- Built-in procedure types: no program to write. TYPE 'transform' writes the
-- rows its TABLE query computes into an INTO table, inside PostgreSQL, one
-- share per segment; TYPE 'sql' runs statements in order as the caller.
SET client_min_messages = warning;
CREATE TABLE readings AS
  SELECT g AS id, g % 3 AS sensor, g * 0.5 AS value FROM generate_series(1, 300) g;

CREATE PROCEDURE rescale TYPE 'transform';
CALL rescale(input => TABLE (SELECT id, sensor, value * 10 AS scaled FROM readings WHERE sensor = 1))
  INTO rescaled WITH (segments = 2);
SELECT count(*) AS n, min(scaled), max(scaled) FROM rescaled;
SELECT state, segments_total, rows_in, rows_out FROM procgate.runs WHERE procedure = 'rescale';

CREATE PROCEDURE daily_totals TYPE 'sql' EXECUTION MODE NONDISTRIBUTED;
CALL daily_totals(statements => ARRAY[
  'CREATE TABLE totals (sensor int, total numeric)',
  'INSERT INTO totals SELECT sensor, sum(value) FROM readings GROUP BY sensor',
  'SELECT sensor, total FROM totals ORDER BY sensor']);
SELECT results -> '0' -> 'rows' AS last_rows FROM procgate.runs WHERE procedure = 'daily_totals';

-- The first error stops the run; what ran before it stays committed.
CALL daily_totals(statements => ARRAY[
  'DELETE FROM totals WHERE sensor = 0',
  'SELECT 1 / 0']);
