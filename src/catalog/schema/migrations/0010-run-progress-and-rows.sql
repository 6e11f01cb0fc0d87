-- Version 10: a run's progress is the share of its work done, and its rows
-- are counted live for every type. A segment that turned out to have
-- nothing to do (a training run's other segments) is idle and no share of
-- the work. Reports carry rows written; completions whether the segment
-- was idle and how far it got: two engine functions changed signature.

ALTER TABLE procgate_internal.run_segments ADD COLUMN idle boolean NOT NULL DEFAULT false;

-- As in version 2, with rows written.
DROP FUNCTION IF EXISTS procgate_internal.engine_report(text, uuid, int, int, numeric, bigint, text, jsonb);

-- As in version 6, with whether the segment was idle and its progress.
DROP FUNCTION IF EXISTS procgate_internal.engine_complete(text, uuid, int, int, text, int, text, jsonb, jsonb, bigint, bigint, text);
