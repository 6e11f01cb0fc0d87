import os
import time

import psycopg2

conn = psycopg2.connect(os.environ['PROCGATE_URL'])
conn.autocommit = True
with conn.cursor() as cur:
    cur.execute('EXECUTE PROCEDURE sensor_stats(readings => TABLE (readings) PARTITION BY sensor, scale => %s)'
                ' INTO sensor_summary', (2,))
    run_id = cur.fetchone()[0]
    state = 'queued'
    while state in ('queued', 'running'):
        time.sleep(0.1)
        cur.execute('SELECT state FROM procgate.runs WHERE run_id = %s', (run_id,))
        state = cur.fetchone()[0]
    print(f'run {run_id}: {state}')
conn.close()
