-- Version 17: a segment's output goes straight into its INTO tables through
-- the segment's own login, in one transaction with its completion
-- (definitions/engine/segment-output.sql). The engine records the backend of
-- its own session of the login that commits, so that no other session of
-- the login (the program's, which knew a password of it) can complete the
-- segment.

ALTER TABLE procgate_internal.segment_logins ADD COLUMN committer_pid int;
