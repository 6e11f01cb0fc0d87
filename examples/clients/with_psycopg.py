import json
import os

import psycopg

url = os.environ['PROCGATE_URL']
with psycopg.connect(url, autocommit=True) as listener, psycopg.connect(url, autocommit=True) as conn:
    # procgate NOTIFYs every change of a run's state: listen first, then start the run.
    listener.execute('LISTEN procgate_run_state')
    run_id = conn.execute(
        'EXECUTE PROCEDURE sensor_stats(readings => TABLE (readings) PARTITION BY sensor, scale => %s)'
        ' INTO sensor_summary', (2,)).fetchone()[0]
    for notify in listener.notifies():
        change = json.loads(notify.payload)
        if change['run_id'] == str(run_id) and change['state'] in ('succeeded', 'failed', 'killed'):
            print(f"run {run_id}: {change['state']}")
            break
