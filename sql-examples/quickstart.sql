-- procgate quickstart: the whole cycle in one script. From the repository's root:
--   psql '<the URL procgate printed>' --echo-all -f sql-examples/quickstart.sql
-- (--echo-all shows each statement before its result; quickstart.expected is what it prints.)
-- Create a procedure, start a run, wait for it, look at what it did, then
-- kill a run. Everything that is not a procgate statement is PostgreSQL.
-- The script can be run again: it starts by removing what it made.
\set ON_ERROR_STOP on
-- Some rows are wider than a terminal: print them all rather than page them.
\pset pager off
DROP PROCEDURE IF EXISTS sensor_stats;
DROP PROCEDURE IF EXISTS nap;
DROP TABLE IF EXISTS readings, sensor_summary;

-- 1. Data, in a plain PostgreSQL table.
CREATE TABLE readings (sensor text, reading numeric);
INSERT INTO readings SELECT 'sensor ' || (i % 3), i FROM generate_series(1, 30) AS i;

-- 2. A procedure. This one is javascript; a `LANGUAGE command` procedure runs
-- any program the same way (see 06-command-procedure.sql). It is handed one
-- segment of the table at a time, and writes rows INTO a table.
CREATE PROCEDURE sensor_stats(readings TABLE, scale numeric DEFAULT 1)
  LANGUAGE javascript
  RETURNS TABLE (sensor text, n int, mean numeric)
  FILES ('main.js' = $js$
export default async (ctx) => {
  const sums = new Map();
  for await (const { sensor, reading } of ctx.inputs.readings) {
    const [n, sum] = sums.get(sensor) ?? [0, 0];
    sums.set(sensor, [n + 1, sum + Number(reading) * ctx.params.scale]);
  }
  for (const [sensor, [n, sum]] of sums) await ctx.outputs[0].write({ sensor, n, mean: sum / n });
  ctx.result('sensors', sums.size);
  console.log('segment %d: %d sensors', ctx.segment, sums.size);
};
$js$);
SHOW PROCEDURE sensor_stats;

-- 3. Start a run. EXECUTE PROCEDURE returns at once, with the queued run
-- (\gset keeps its columns as psql variables: :run_id, :state).
EXECUTE PROCEDURE sensor_stats(readings => TABLE (SELECT sensor, reading FROM readings) PARTITION BY sensor,
                               scale => 2)
  INTO sensor_summary WITH (run_tag = 'quickstart') \gset
\echo run :run_id is :state

-- 4. Wait until it has ended, polling procgate.runs (CALL, below, waits for you).
DO $$
BEGIN
  WHILE EXISTS (SELECT FROM procgate.runs WHERE run_tag = 'quickstart' AND state IN ('queued', 'running')) LOOP
    PERFORM pg_sleep(0.1);
  END LOOP;
END
$$;

-- 5. What it did: the run, its segments (one per sensor), its output lines and its rows.
SELECT state, segments_total, rows_in, rows_out, progress, results FROM procgate.runs WHERE run_id = :'run_id';
SELECT segment, state, rows_in, rows_out FROM procgate.run_segments WHERE run_id = :'run_id' ORDER BY segment;
SELECT segment, stream, line FROM procgate.run_output WHERE run_id = :'run_id' ORDER BY segment, line_no;
SELECT * FROM sensor_summary ORDER BY sensor;

-- 6. CALL starts a run and waits for it, then returns it. In psql it also
-- reports progress as NOTICEs; they vary from run to run, so they are hidden here.
SET client_min_messages = warning;
CALL sensor_stats(readings => TABLE (readings) PARTITION BY sensor) INTO sensor_summary WITH (run_tag = 'quickstart');
RESET client_min_messages;
SELECT count(*) AS summary_rows FROM sensor_summary;

-- 7. Kill a run: a command procedure that would sleep for a minute.
CREATE PROCEDURE nap LANGUAGE command COMMAND 'sleep' ARGS ('60') EXECUTION MODE NONDISTRIBUTED;
EXECUTE PROCEDURE nap() WITH (run_tag = 'nap') \gset nap_
DO $$
BEGIN
  WHILE EXISTS (SELECT FROM procgate.runs WHERE run_tag = 'nap' AND state = 'queued') LOOP
    PERFORM pg_sleep(0.1);
  END LOOP;
END
$$;
KILL RUN :'nap_run_id';
DO $$
BEGIN
  WHILE EXISTS (SELECT FROM procgate.runs WHERE run_tag = 'nap' AND state <> 'killed') LOOP
    PERFORM pg_sleep(0.1);
  END LOOP;
END
$$;
SHOW PROCEDURE STATUS WITH (run_tag = 'nap');

-- Every run stays in procgate.runs, to SELECT and chart.
SELECT procedure, state, count(*) FROM procgate.runs GROUP BY procedure, state ORDER BY procedure, state;
