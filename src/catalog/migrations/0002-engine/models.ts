import { visibleRun } from '../0001-catalog/views.js';

/**
 * Trained models (classifier.train, issue 5): one row per model name, the
 * serialised model and its metrics; per-step training metrics of runs; and
 * the schema procgate_models where each model becomes a SQL function owned
 * by the model's owner. The engine writes the rows (as the schema owner);
 * users read them through the procgate views, owner-only unless admin.
 */
export const models = `
CREATE TABLE procgate_internal.models (
  name text PRIMARY KEY,
  type text NOT NULL CHECK (type IN ('classifier', 'kmeans', 'regression')),
  algorithm text NOT NULL,
  feature_names text[] NOT NULL,
  feature_types text[] NOT NULL,
  -- NULL for kmeans (its label_values are the cluster numbers).
  label_column text,
  label_values text[] NOT NULL,
  hyperparameters jsonb NOT NULL DEFAULT '{}',
  metrics jsonb NOT NULL DEFAULT '{}',
  model jsonb NOT NULL,
  -- The generated SQL function (procgate_models.<name>), NULL when the algorithm has none.
  sql_function text,
  owner text NOT NULL,
  created_by_run uuid REFERENCES procgate_internal.runs (run_id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);

-- Per-step metrics written while a run trains (step: a tree, an iteration, an epoch).
-- Keyed by (run, step, metric): a retried attempt writes the same keys again.
CREATE TABLE procgate_internal.run_metrics (
  run_id uuid NOT NULL REFERENCES procgate_internal.runs (run_id) ON DELETE CASCADE,
  step int NOT NULL,
  metric text NOT NULL,
  value double precision,
  at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  PRIMARY KEY (run_id, step, metric)
);
REVOKE ALL ON procgate_internal.models, procgate_internal.run_metrics FROM PUBLIC;

CREATE VIEW procgate.models WITH (security_barrier) AS
SELECT
  m.name,
  m.type,
  m.algorithm,
  m.feature_names,
  m.feature_types,
  m.label_column,
  m.label_values,
  m.hyperparameters,
  m.metrics,
  m.model,
  m.sql_function,
  m.owner,
  m.created_by_run,
  m.created_at
FROM procgate_internal.models m
WHERE (m.owner = current_user OR pg_catalog.pg_has_role(current_user, 'procgate_admin', 'MEMBER'));

CREATE VIEW procgate.run_metrics WITH (security_barrier) AS
SELECT mt.run_id, mt.step, mt.metric, mt.value, mt.at
FROM procgate_internal.run_metrics mt
JOIN procgate_internal.runs r ON r.run_id = mt.run_id
WHERE ${visibleRun('r')};

COMMENT ON VIEW procgate.models IS 'procgate: trained models you own (every model for procgate_admin)';
COMMENT ON VIEW procgate.run_metrics IS 'procgate: per-step training metrics of visible runs';

CREATE TRIGGER read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON procgate.models
  FOR EACH ROW EXECUTE FUNCTION procgate_internal.reject_view_write();
CREATE TRIGGER read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON procgate.run_metrics
  FOR EACH ROW EXECUTE FUNCTION procgate_internal.reject_view_write();

REVOKE ALL ON procgate.models, procgate.run_metrics FROM PUBLIC;
GRANT SELECT ON procgate.models, procgate.run_metrics TO PUBLIC;

-- Each model's prediction function, owned by the model's owner (who may GRANT EXECUTE on it).
CREATE SCHEMA procgate_models;
REVOKE ALL ON SCHEMA procgate_models FROM PUBLIC;
GRANT USAGE ON SCHEMA procgate_models TO PUBLIC;
COMMENT ON SCHEMA procgate_models IS 'procgate: trained models as SQL functions, one per model, named after it';
`;
