-- Everything that is not one of procgate's statements is PostgreSQL's, untouched.
-- Run with: psql '<the URL procgate printed>' --echo-all -f sql-examples/01-plain-postgresql.sql
CREATE TEMP TABLE docs (id serial PRIMARY KEY, lang text, body text);
INSERT INTO docs (lang, body) VALUES
  ('en', 'the quick brown fox'),
  ('en', 'jumps over the lazy dog'),
  ('de', 'der schnelle braune fuchs');
SELECT lang, count(*) AS docs, sum(array_length(regexp_split_to_array(body, '\s+'), 1)) AS words
FROM docs GROUP BY lang ORDER BY lang;
