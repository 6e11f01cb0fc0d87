import os

from sqlalchemy import create_engine, inspect, text

engine = create_engine(os.environ['PROCGATE_URL'].replace('postgres://', 'postgresql+psycopg2://', 1))
# The procgate views reflect like any others.
print([column['name'] for column in inspect(engine).get_columns('runs', schema='procgate')][:4])
# begin() commits when the block ends: the run is queued for the engines then.
with engine.begin() as conn:
    run = conn.execute(text('EXECUTE PROCEDURE sensor_stats(readings => TABLE (readings), scale => :scale)'
                            ' INTO sensor_summary'), {'scale': 2}).one()
print(f'run {run.run_id}: {run.state}')
