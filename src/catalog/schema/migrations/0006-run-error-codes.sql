-- Version 6: a failed run and segment keep the SQLSTATE of what failed
-- them. Two engine functions took an error code and changed signature.

ALTER TABLE procgate_internal.runs ADD COLUMN error_code text;

ALTER TABLE procgate_internal.run_segments ADD COLUMN error_code text;

-- As in version 2, with the segment's error_code.
DROP FUNCTION IF EXISTS procgate_internal.engine_complete(text, uuid, int, int, text, int, text, jsonb, jsonb, bigint, bigint);

-- As in version 2, with the error's SQLSTATE.
DROP FUNCTION IF EXISTS procgate_internal.engine_fail_planning(uuid, text);
