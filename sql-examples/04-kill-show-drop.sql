-- KILL RUNS, SHOW PROCEDURE STATUS and DROP PROCEDURE.
CREATE PROCEDURE nightly TYPE 'sql' WITH (statements = ARRAY['VACUUM ANALYZE']);
EXECUTE PROCEDURE nightly() WITH (run_tag = 'a') \g /dev/null
EXECUTE PROCEDURE nightly() WITH (run_tag = 'a') \g /dev/null
EXECUTE PROCEDURE nightly() WITH (run_tag = 'b') \g /dev/null

SELECT state, count(*) FROM procgate.runs GROUP BY state;
SELECT count(*) AS killed FROM (SELECT * FROM procgate.kill_runs('nightly', 'a')) AS k;
SELECT run_tag, state FROM procgate.runs ORDER BY created_at;

-- The statement forms return the same rows (run ids vary, so only counted here).
KILL RUNS OF PROCEDURE nightly WITH (run_tag = 'b') \g /dev/null
SELECT run_tag, state FROM procgate.runs ORDER BY created_at;

DROP PROCEDURE nightly;
SHOW PROCEDURES;
DROP PROCEDURE IF EXISTS nightly;
