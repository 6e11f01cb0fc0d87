import os
from urllib.parse import urlsplit

import pyodbc

url = urlsplit(os.environ['PROCGATE_URL'])
# UseDeclareFetch=1 reads results through a cursor, a block of rows at a time, as Tableau and Power BI do.
conn = pyodbc.connect(f'Driver={{PostgreSQL Unicode}};Server={url.hostname};Port={url.port};'
                      f'Database={url.path[1:]};Uid={url.username};Pwd={url.password};UseDeclareFetch=1')
for run in conn.cursor().execute('SELECT procedure, state, count(*) AS runs FROM procgate.runs'
                                 ' GROUP BY procedure, state ORDER BY procedure, state'):
    print(run.procedure, run.state, run.runs)
conn.close()
