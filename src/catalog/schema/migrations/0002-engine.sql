-- Version 2: the engine's columns on runs (staged inputs, resolved
-- outputs), the staging and model schemas, trained models and per-step
-- training metrics.

CREATE SCHEMA procgate_staging;

COMMENT ON SCHEMA procgate_staging IS 'procgate: the TABLE inputs of running runs, read once when they start';

ALTER TABLE procgate_internal.runs
  -- [{"name", "table", "partitioned", "blocks", "columns": [{"name", "type", "typeOid"}]}]
  ADD COLUMN staged_inputs jsonb,
  -- [{"name", "table", "columns": [...]}]: each INTO table, resolved and created as the caller.
  ADD COLUMN resolved_outputs jsonb,
  -- Whether the run has TABLE arguments or INTO tables: its engine stages them first.
  ADD COLUMN has_table_data boolean GENERATED ALWAYS AS (input_queries <> '[]' OR output_tables <> '{}') STORED;

-- Finding a data run to plan must not cost a scan of the whole queue.
CREATE INDEX runs_unplanned_data_idx ON procgate_internal.runs (created_at)
  WHERE state = 'queued' AND segments_total IS NULL AND has_table_data;

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

-- Each model's prediction function, owned by the model's owner (who may GRANT EXECUTE on it).
CREATE SCHEMA procgate_models;

COMMENT ON SCHEMA procgate_models IS 'procgate: trained models as SQL functions, one per model, named after it';
