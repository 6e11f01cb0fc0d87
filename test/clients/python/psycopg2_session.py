"""psycopg2 (libpq, client-side %s interpolation) in its default mode: every statement in a transaction
until commit() or rollback().

Runs py_filter with %s parameters (one inside the TABLE query), waits for the run, reads the INTO table;
reads a command procedure's output lines through a named (server-side) cursor; gets 22023 for a bad
argument name, after which a rollback makes the connection usable again; and, in autocommit, CALLs py_filter.
"""
import psycopg2

from common import URL, emit, wait_for_run

observed = {}
conn = psycopg2.connect(URL, application_name='py-psycopg2')
try:
    cur = conn.cursor()
    cur.execute('DROP TABLE IF EXISTS py_psycopg2_kept, py_psycopg2_called')
    conn.commit()

    def run_state(run_id):
        cur.execute('SELECT state FROM procgate.runs WHERE run_id = %s', (run_id,))
        return cur.fetchone()[0]

    cur.execute(
        """EXECUTE PROCEDURE py_filter(
             scores => TABLE (SELECT name, score FROM py_scores WHERE score > %s),
             min_score => %s)
           INTO py_psycopg2_kept WITH (run_tag = %s)""",
        (20, 50, 'py-psycopg2'),
    )
    observed['execute_columns'] = [column.name for column in cur.description]
    run_id, procedure, state, run_tag, _created_at = cur.fetchone()
    observed['execute_row'] = {'procedure': procedure, 'state': state, 'run_tag': run_tag}
    # The run is queued by the transaction: the engine sees it at commit.
    conn.commit()
    observed['filter_state'] = wait_for_run(run_state, run_id)
    cur.execute('SELECT name, score FROM py_psycopg2_kept ORDER BY name')
    observed['kept'] = cur.fetchall()
    cur.execute('SELECT params, input_queries FROM procgate.runs WHERE run_id = %s', (run_id,))
    params, input_queries = cur.fetchone()  # jsonb arrives parsed
    observed['params'] = params
    observed['input_queries'] = input_queries
    conn.commit()

    # A procedure that prints five lines, created and executed from psycopg2.
    cur.execute(
        """CREATE OR REPLACE PROCEDURE py_psycopg2_lines LANGUAGE command COMMAND 'sh'
             ARGS ('-c', 'for i in 1 2 3 4 5; do echo line $i; done')"""
    )
    cur.execute('EXECUTE PROCEDURE py_psycopg2_lines()')
    lines_run = cur.fetchone()[0]
    conn.commit()
    observed['lines_state'] = wait_for_run(run_state, lines_run)
    conn.commit()

    # A named cursor is DECLARE ... CURSOR plus FETCH FORWARD 2 until it is exhausted.
    named = conn.cursor(name='py_psycopg2_output')
    named.itersize = 2
    named.execute(
        'SELECT line_no, line FROM procgate.run_output WHERE run_id = %s AND stream = %s ORDER BY line_no',
        (lines_run, 'stdout'),
    )
    observed['output'] = []
    for line_no, line in named:
        observed['output'].append([line_no, line])
        if line_no == 1:
            # Another cursor of the same connection sees the open portal.
            cur.execute('SELECT name, is_holdable FROM pg_cursors')
            observed['open_cursors'] = cur.fetchall()
    named.close()
    conn.commit()

    # A bad argument name: 22023, the transaction is aborted until rollback.
    try:
        cur.execute('EXECUTE PROCEDURE py_filter(scores => TABLE (py_scores), nope => %s)', (1,))
        observed['bad_argument'] = 'no error'
    except psycopg2.Error as error:
        observed['bad_argument'] = {'pgcode': error.pgcode, 'message': error.pgerror}
    try:
        cur.execute('SELECT 1')
        observed['in_failed_transaction'] = 'no error'
    except psycopg2.Error as error:
        observed['in_failed_transaction'] = error.pgcode
    conn.rollback()
    cur.execute('SELECT 2 AS two')
    observed['after_rollback'] = cur.fetchone()[0]
    conn.commit()

    # CALL waits for its run outside a transaction block, reporting progress as NOTICEs.
    conn.autocommit = True
    del conn.notices[:]
    cur.execute('CALL py_filter(scores => TABLE (py_scores), min_score => %s) INTO py_psycopg2_called', (60,))
    observed['call_columns'] = [column.name for column in cur.description]
    observed['call_row'] = dict(zip(observed['call_columns'], cur.fetchone()))
    observed['call_status'] = cur.statusmessage
    observed['call_notices'] = [notice.strip() for notice in conn.notices]
    cur.execute('SELECT name FROM py_psycopg2_called ORDER BY name')
    observed['called'] = [name for (name,) in cur.fetchall()]
finally:
    conn.close()

emit(observed)
