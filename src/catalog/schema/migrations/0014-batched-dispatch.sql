-- Version 14: batched dispatch. engine_claim takes how many segments to
-- queue ahead and says which version of a procedure's files and
-- environment a segment gets (setup_key), so it is defined again
-- (engine/claim.sql) with another signature.

DROP FUNCTION IF EXISTS procgate_internal.engine_claim(text, int, interval, text[]);
