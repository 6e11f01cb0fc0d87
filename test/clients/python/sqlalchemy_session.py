"""SQLAlchemy 1.4 Core with the psycopg2 dialect.

Reflects procgate's views with the inspector (what ORMs, migration tools and notebooks do), runs py_filter
through text() with bound :name parameters in a transaction, waits for the run and reflects its INTO table.
"""

from sqlalchemy import MetaData, Table, create_engine, inspect, select, text

from common import DATABASE, HOST, PASSWORD, PORT, USER, emit, wait_for_run

observed = {}
engine = create_engine(f'postgresql+psycopg2://{USER}:{PASSWORD}@{HOST}:{PORT}/{DATABASE}', future=True)
try:
    inspector = inspect(engine)
    observed['schemas'] = inspector.get_schema_names()
    observed['views'] = inspector.get_view_names(schema='procgate')
    observed['runs_columns'] = {
        column['name']: {
            'type': type(column['type']).__name__,
            'timezone': getattr(column['type'], 'timezone', None),
            'item_type': type(column['type'].item_type).__name__ if hasattr(column['type'], 'item_type') else None,
        }
        for column in inspector.get_columns('runs', schema='procgate')
    }

    with engine.begin() as conn:
        conn.execute(text('DROP TABLE IF EXISTS py_sqla_kept'))
        row = conn.execute(
            text(
                """EXECUTE PROCEDURE py_filter(
                     scores => TABLE (SELECT name, score FROM py_scores WHERE score >= :min_score),
                     min_score => :min_score)
                   INTO py_sqla_kept WITH (run_tag = :tag)"""
            ),
            {'min_score': 75, 'tag': 'py-sqlalchemy'},
        ).mappings().one()
    observed['execute_row'] = dict(row)

    with engine.connect() as conn:
        def run_state(run_id):
            return conn.execute(
                text('SELECT state FROM procgate.runs WHERE run_id = :run_id'), {'run_id': run_id}
            ).scalar_one()

        observed['state'] = wait_for_run(run_state, row['run_id'])
        kept = Table('py_sqla_kept', MetaData(), autoload_with=conn)
        observed['kept_columns'] = {column.name: type(column.type).__name__ for column in kept.columns}
        observed['kept'] = [list(r) for r in conn.execute(select(kept).order_by(kept.c.name))]
finally:
    engine.dispose()

emit(observed)
