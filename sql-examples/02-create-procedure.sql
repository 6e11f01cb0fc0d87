-- CREATE PROCEDURE: a command procedure with its files, a javascript procedure
-- with declared parameters and defaults, and what procgate.procedures shows of them.
CREATE PROCEDURE word_count LANGUAGE command COMMAND 'python3' ARGS ('wc.py')
  FILES ('wc.py' = $py$
import csv, json, os, sys
print("counting words")
$py$)
  WITH (max_concurrency_per_node = 2);

CREATE PROCEDURE score_docs(docs TABLE, min_len int DEFAULT 3, lang text DEFAULT 'en')
  LANGUAGE javascript
  EXECUTION MODE NONDISTRIBUTED
  RETURNS TABLE (id int, score numeric);

SELECT name, language, command, args, execution_mode, files
FROM procgate.procedures ORDER BY name;

-- A duplicate needs OR REPLACE.
CREATE PROCEDURE word_count LANGUAGE javascript;
CREATE OR REPLACE PROCEDURE word_count LANGUAGE command COMMAND 'python3' ARGS ('wc.py', '--min', '2');
SHOW PROCEDURE word_count;
