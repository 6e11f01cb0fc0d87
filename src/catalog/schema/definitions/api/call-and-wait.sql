-- CALL of a procgate procedure: a PostgreSQL procedure, because only a
-- procedure may COMMIT. It queues the run like EXECUTE PROCEDURE, commits so
-- the engines can see it, then waits for the run to end, telling the client
-- its state and progress as NOTICEs, and returns the finished run. A failed
-- run raises its error_code (else 38000; 57014 with a DETAIL when it timed
-- out) and a killed one 57014; a cancel of the CALL (Ctrl-C) kills the run,
-- even when one CancelRequest interrupts the backend twice. Inside a transaction block PostgreSQL refuses the COMMIT
-- (2D000), which the proxy reports as 25001.

CREATE OR REPLACE PROCEDURE procgate.call_and_wait(
  name text, args procgate.arg_value[] DEFAULT NULL, tables procgate.table_value[] DEFAULT NULL,
  "into" text[] DEFAULT NULL, options procgate.arg_value[] DEFAULT NULL,
  INOUT run_id uuid DEFAULT NULL, INOUT procedure text DEFAULT NULL, INOUT state text DEFAULT NULL,
  INOUT run_tag text DEFAULT NULL, INOUT progress numeric DEFAULT NULL, INOUT error text DEFAULT NULL,
  INOUT results jsonb DEFAULT NULL, INOUT created_at timestamptz DEFAULT NULL,
  INOUT finished_at timestamptz DEFAULT NULL
)
LANGUAGE plpgsql
AS $proc$
DECLARE
  run record;
  told_state text;
  told_progress numeric;
  cancelled boolean;
  started_state text;
  failed_code text;
BEGIN
  SELECT e.run_id, e.state INTO call_and_wait.run_id, started_state
    FROM procgate.execute(call_and_wait.name, call_and_wait.args, call_and_wait.tables,
                          call_and_wait."into", call_and_wait.options) e;
  -- execute_at_startup queued no run, only registered one: nothing to wait for. The error undoes it.
  IF started_state = 'at startup' THEN
    RAISE EXCEPTION 'CALL cannot use option "execute_at_startup": CALL waits for its run'
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use EXECUTE PROCEDURE ... WITH (execute_at_startup = true).';
  END IF;
  -- From here on the run is there for the engines to take.
  COMMIT;
  LOOP
    cancelled := false;
    -- A cancel may land anywhere in here (not only in the sleep): each one kills the run.
    BEGIN
      SELECT r.* INTO run FROM procgate.runs r WHERE r.run_id = call_and_wait.run_id;
      IF run.state IS DISTINCT FROM told_state OR run.progress IS DISTINCT FROM told_progress THEN
        RAISE NOTICE 'run % of procedure "%": % (% %%)',
          run.run_id, run.procedure, run.state, pg_catalog.round(run.progress * 100);
        told_state := run.state;
        told_progress := run.progress;
      END IF;
      IF run.state NOT IN ('succeeded', 'failed', 'killed') THEN
        PERFORM pg_catalog.pg_sleep(0.05);
      END IF;
    EXCEPTION WHEN query_canceled THEN
      cancelled := true;
    END;
    IF cancelled THEN
      -- One CancelRequest can interrupt twice (the postmaster signals the
      -- backend and its process group, a moment apart): the second must
      -- neither undo the kill nor land on the COMMIT that keeps it. It is
      -- let in here first, then the kill is retried until it goes through.
      BEGIN
        PERFORM pg_catalog.pg_sleep(0.1);
      EXCEPTION WHEN query_canceled THEN
        NULL;
      END;
      LOOP
        BEGIN
          PERFORM procgate.kill_run(call_and_wait.run_id);
          EXIT;
        EXCEPTION WHEN query_canceled THEN
          NULL;
        END;
      END LOOP;
      COMMIT;
      RAISE EXCEPTION 'canceling statement due to user request'
        USING ERRCODE = 'query_canceled', DETAIL = pg_catalog.format('Run %s was killed.', call_and_wait.run_id);
    END IF;
    EXIT WHEN run.state IN ('succeeded', 'failed', 'killed');
    -- No transaction stays open while the run goes on.
    COMMIT;
  END LOOP;
  IF run.state = 'failed' THEN
    -- The SQLSTATE of what failed the run, else 38000: its program failed.
    failed_code := coalesce(procgate.run_error_code(run.run_id), '38000');
    -- 57014 on a failed run: a segment outlived the run's timeout (or a statement its statement_timeout).
    IF failed_code = '57014' THEN
      RAISE EXCEPTION 'run % of procedure "%" failed: %', run.run_id, run.procedure, run.error
        USING ERRCODE = failed_code,
              DETAIL = CASE WHEN run.options ? 'timeout'
                         THEN pg_catalog.format('The run timed out: a segment ran longer than its timeout (%s).',
                                                (run.options -> 'timeout' ->> 'value')::interval)
                         ELSE 'The run timed out.' END;
    END IF;
    RAISE EXCEPTION 'run % of procedure "%" failed: %', run.run_id, run.procedure, run.error
      USING ERRCODE = failed_code;
  ELSIF run.state = 'killed' THEN
    RAISE EXCEPTION 'run % of procedure "%" was killed', run.run_id, run.procedure
      USING ERRCODE = 'query_canceled';
  END IF;
  procedure := run.procedure;
  state := run.state;
  run_tag := run.run_tag;
  progress := run.progress;
  error := run.error;
  results := run.results;
  created_at := run.created_at;
  finished_at := run.finished_at;
END
$proc$;

COMMENT ON PROCEDURE procgate.call_and_wait(text, procgate.arg_value[], procgate.table_value[], text[],
  procgate.arg_value[], uuid, text, text, text, numeric, text, jsonb, timestamptz, timestamptz)
  IS 'CALL of a procgate procedure: queues the run, waits for it, returns it';
