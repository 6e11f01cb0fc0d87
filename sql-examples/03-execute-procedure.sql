-- EXECUTE PROCEDURE: arguments are any PostgreSQL expressions, evaluated now;
-- TABLE (...) arguments are input queries, read when the run starts.
CREATE TABLE docs (id int PRIMARY KEY, lang text, body text);
INSERT INTO docs VALUES (1, 'en', 'the quick brown fox'), (2, 'de', 'der fuchs'), (3, 'en', 'lazy dog');

CREATE PROCEDURE word_count(docs TABLE, min_len int DEFAULT 2, since date DEFAULT '2020-01-01')
  LANGUAGE command COMMAND 'python3' ARGS ('wc.py') FILES ('wc.py' = 'print(1)');

EXECUTE PROCEDURE word_count(docs => TABLE (SELECT id, body FROM docs WHERE lang = 'en') PARTITION BY id,
                             min_len => 2 + 1)
  INTO word_counts WITH (run_tag = 'nightly');

SELECT procedure, state, run_tag, params, output_tables
FROM procgate.runs ORDER BY created_at;

-- Mistakes get PostgreSQL errors pointing at the right character.
EXECUTE PROCEDURE word_count(docs => TABLE (SELECT nosuch FROM docs));
EXECUTE PROCEDURE word_count(docs => TABLE (docs), colour => 'red');
EXECUTE PROCEDURE no_such_procedure();
KILL RUN 42;
