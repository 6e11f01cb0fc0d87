-- Version 14: batched dispatch. engine_claim also says which version of a
-- procedure's files and environment a segment gets (setup_key), so its
-- result changes and it is defined again (engine/claim.sql).

DROP FUNCTION IF EXISTS procgate_internal.engine_claim(text, int, interval, text[]);
