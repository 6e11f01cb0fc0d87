-- Version 11: EXECUTE checks what a built-in type's parameters say of their
-- values, models and TABLE columns (definitions/base/type-checks.sql).
-- api_execute takes the caller's description of the TABLE inputs, so its
-- signature changes; procgate.execute, whose SQL-standard body depends on
-- it, goes with it (neither exists yet on a fresh install: the definitions
-- come after the steps and create both again).
DROP FUNCTION IF EXISTS procgate.execute(text, procgate.arg_value[], procgate.table_value[], text[], procgate.arg_value[]);
DROP FUNCTION IF EXISTS procgate_internal.api_execute(name, text, jsonb, procgate.table_value[], text[], procgate.arg_value[]);
