"""pyodbc over psqlODBC ("PostgreSQL Unicode"), the way Tableau and Power BI read PostgreSQL.

UseDeclareFetch=1 makes the driver read a SELECT through a server-side cursor (DECLARE ... CURSOR, then
FETCH 2 at a time: Fetch=2); autocommit is off as in those tools. Executes py_filter five times with a ?
parameter and commits, reads those runs from procgate.runs over several FETCHes, and lists procgate's views
with the ODBC catalog function SQLTables.
"""
import uuid

import pyodbc

from common import DATABASE, HOST, PASSWORD, PORT, USER, emit, wait_for_run

MIN_SCORES = [0, 20, 40, 60, 80]
TAG = f'py-odbc-{uuid.uuid4().hex[:8]}'
observed = {}
conn = pyodbc.connect(
    f'Driver={{PostgreSQL Unicode}};Server={HOST};Port={PORT};Database={DATABASE};Uid={USER};Pwd={PASSWORD};'
    'UseDeclareFetch=1;Fetch=2',
    autocommit=False,
)
try:
    cur = conn.cursor()
    cur.execute('DROP TABLE IF EXISTS py_odbc_kept')
    conn.commit()

    # ? is bound by the driver; the runs become visible to the engine at commit.
    run_ids = []
    for min_score in MIN_SCORES:
        cur.execute(
            'EXECUTE PROCEDURE py_filter(scores => TABLE (py_scores), min_score => ?) INTO py_odbc_kept '
            'WITH (run_tag = ?)',
            min_score,
            TAG,
        )
        observed['execute_columns'] = [column[0] for column in cur.description]
        run_id, procedure, state, run_tag, _created_at = cur.fetchone()
        observed['execute_row'] = {'procedure': procedure, 'state': state, 'tagged': run_tag == TAG}
        run_ids.append(run_id)
    conn.commit()

    def run_state(run):
        state = cur.execute('SELECT state FROM procgate.runs WHERE run_id = ?', run).fetchval()
        conn.commit()
        return state

    observed['states'] = [wait_for_run(run_state, run_id) for run_id in run_ids]
    # 4 + 3 + 3 + 2 + 1 rows: the runs append to the same INTO table.
    observed['kept'] = cur.execute('SELECT count(*) FROM py_odbc_kept').fetchval()
    conn.commit()

    # Five rows, Fetch=2: the driver fetches them from its cursor in three FETCHes.
    runs = cur.execute(
        'SELECT run_id, procedure, state, progress, created_at FROM procgate.runs WHERE run_tag = ? '
        'ORDER BY created_at',
        TAG,
    )
    observed['runs_columns'] = [column[0] for column in runs.description]
    observed['runs'] = []
    other = conn.cursor()
    for row in runs:
        observed['runs'].append({'run_id': row.run_id, 'procedure': row.procedure, 'state': row.state})
        if len(observed['runs']) == 1:
            # Another cursor of the same connection (and transaction) sees the driver's cursor open.
            observed['open_cursors'] = [list(r) for r in other.execute('SELECT name, statement FROM pg_cursors')]
    other.close()
    observed['run_ids'] = run_ids
    observed['python_types'] = {
        'run_id': type(row.run_id).__name__,
        'progress': type(row.progress).__name__,
        'created_at': type(row.created_at).__name__,
    }
    conn.commit()

    observed['views'] = sorted(row.table_name for row in cur.tables(schema='procgate', tableType='VIEW'))
    conn.commit()
finally:
    conn.close()

emit(observed)
