"""psycopg 3 (server-side binding: %s becomes $n in the extended protocol).

Runs py_filter with %s parameters, one inside the TABLE query; sends several EXECUTE PROCEDURE and SELECT in
one pipeline; reads a run's output lines through a named (server-side) cursor; and, on a second connection,
LISTENs on procgate_run_state and follows a run's state notifications until it has succeeded.
"""
import json
import threading

import psycopg

from common import URL, emit, wait_for_run

TIMEOUT = 10.0
observed = {}
conn = psycopg.connect(URL, autocommit=True, application_name='py-psycopg3')
listener = psycopg.connect(URL, autocommit=True, application_name='py-psycopg3-listener')
try:
    conn.execute('DROP TABLE IF EXISTS py_psycopg3_kept, py_psycopg3_piped')

    def run_state(run_id):
        return conn.execute('SELECT state FROM procgate.runs WHERE run_id = %s', (run_id,)).fetchone()[0]

    row = conn.execute(
        """EXECUTE PROCEDURE py_filter(
             scores => TABLE (SELECT name, score FROM py_scores WHERE score > %s),
             min_score => %s)
           INTO py_psycopg3_kept WITH (run_tag = %s)""",
        (20, 50, 'py-psycopg3'),
    ).fetchone()
    observed['execute_row'] = {'procedure': row[1], 'state': row[2], 'run_tag': row[3]}
    observed['filter_state'] = wait_for_run(run_state, row[0])
    observed['kept'] = conn.execute('SELECT name, score FROM py_psycopg3_kept ORDER BY name').fetchall()
    params, input_queries = conn.execute(
        'SELECT params, input_queries FROM procgate.runs WHERE run_id = %s', (row[0],)
    ).fetchone()
    observed['params'] = params
    observed['input_queries'] = input_queries

    # Pipeline mode: all statements are sent before any answer is read; the answers come back in order.
    with conn.pipeline():
        piped = [
            conn.execute('SELECT 1 AS one'),
            conn.execute(
                'EXECUTE PROCEDURE py_filter(scores => TABLE (py_scores), min_score => %s) INTO py_psycopg3_piped',
                (60,),
            ),
            conn.execute('SELECT count(*) FROM procgate.procedures WHERE name = %s', ('py_filter',)),
            conn.execute(
                'EXECUTE PROCEDURE py_filter(scores => TABLE (py_scores), min_score => %s) INTO py_psycopg3_piped',
                (80,),
            ),
            conn.execute('SELECT %s::text AS last', ('done',)),
        ]
    answers = [cursor.fetchall() for cursor in piped]
    observed['pipeline'] = {
        'one': answers[0],
        'executed': [[answers[i][0][1], answers[i][0][2]] for i in (1, 3)],
        'procedures': answers[2],
        'last': answers[4],
    }
    observed['pipeline_states'] = [wait_for_run(run_state, answers[i][0][0]) for i in (1, 3)]
    observed['piped_rows'] = conn.execute('SELECT name FROM py_psycopg3_piped ORDER BY name').fetchall()

    # A javascript procedure that logs n lines, created from psycopg 3 (no parameters: the text is sent as is).
    conn.execute(
        """CREATE OR REPLACE PROCEDURE py_psycopg3_count(n int DEFAULT 3) LANGUAGE javascript
             FILES ('main.js' = $js$
export default async (ctx) => {
  for (let i = 1; i <= ctx.params.n; i += 1) {
    ctx.log.info('line %d', i);
    ctx.progress(i / ctx.params.n);
  }
};
$js$)"""
    )
    # LISTEN first, then execute on the other connection: the listener then only waits for notifications.
    listener.execute('LISTEN procgate_run_state')
    run_id = str(conn.execute('EXECUTE PROCEDURE py_psycopg3_count(n => %s)', (7,)).fetchone()[0])
    # notifies() has no timeout in psycopg 3.1: a watchdog sends a sentinel notification to stop it.
    def stop_listening():
        with psycopg.connect(URL, autocommit=True) as other:
            other.execute("SELECT pg_notify('procgate_run_state', 'timeout')")

    watchdog = threading.Timer(TIMEOUT, stop_listening)
    watchdog.start()
    states = []
    try:
        for notify in listener.notifies():
            if notify.payload == 'timeout':
                states.append('timeout')
                break
            message = json.loads(notify.payload)
            if message.get('run_id') != run_id:
                continue
            states.append(message['state'])
            if message['state'] in ('succeeded', 'failed', 'killed'):
                break
    finally:
        watchdog.cancel()
    observed['notified_states'] = states

    # A named cursor: DECLARE with a bound $1, then FETCH FORWARD 2 until the end (needs a transaction).
    with conn.transaction():
        with conn.cursor(name='py_psycopg3_output') as named:
            named.itersize = 2
            named.execute(
                'SELECT line_no, line FROM procgate.run_output WHERE run_id = %s ORDER BY line_no',
                (run_id,),
            )
            observed['output'] = list(named)
            observed['open_cursors'] = conn.execute("SELECT name FROM pg_cursors").fetchall()
finally:
    listener.close()
    conn.close()

emit(observed)
