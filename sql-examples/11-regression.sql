-- Regression: fit a numeric column on others with one statement, evaluate
-- the model on held-out rows, and call it as an ordinary SQL function.
-- The data: price = 3 * area - 2 * age + 5, plus a small fixed noise.
SET client_min_messages = warning;
CREATE TABLE houses AS
  SELECT i AS id, area, age, (3 * area - 2 * age + 5 + ((i * 7919) % 13 - 6) / 100.0)::float8 AS price
    FROM (SELECT i, ((i * 37) % 101) / 10.0 AS area, ((i * 53) % 97) / 10.0 AS age
            FROM generate_series(1, 600) AS i) s;

CREATE PROCEDURE train_price TYPE 'regression.train';
CALL train_price(training_data => TABLE (SELECT area, age, price FROM houses WHERE id <= 500),
  label => 'price', model_name => 'price_model', algorithm => 'linear');
SELECT round((results -> '0' ->> 'r2')::numeric, 3) AS r2,
       round((results -> '0' -> 'coefficients' ->> 'area')::numeric, 2) AS area,
       round((results -> '0' -> 'coefficients' ->> 'age')::numeric, 2) AS age,
       round((results -> '0' ->> 'intercept')::numeric, 1) AS intercept
  FROM procgate.runs WHERE procedure = 'train_price';

-- The model is a function: any client, any SELECT, with or without procgate.
SELECT id, price, round(procgate_models.price_model(area, age)::numeric, 2) AS predicted
  FROM houses WHERE id > 597 ORDER BY id;

CREATE PROCEDURE test_price TYPE 'regression.test';
CALL test_price(model_name => 'price_model', test_data => TABLE (SELECT area, age, price FROM houses WHERE id > 500));
SELECT round((results -> '0' ->> 'r2')::numeric, 3) AS r2, (results -> '0' ->> 'rows')::int AS rows
  FROM procgate.runs WHERE procedure = 'test_price';

-- A forest of regression trees, its per-tree metrics written as it grows.
CALL train_price(training_data => TABLE (SELECT area, age, price FROM houses WHERE id <= 500),
  label => 'price', model_name => 'price_forest', algorithm => 'random_forest', n_estimators => 5, seed => 2);
SELECT step, metric FROM procgate.run_metrics
 WHERE metric = 'forest_rmse' ORDER BY step;
SELECT name, type, algorithm, feature_names FROM procgate.models ORDER BY name;

-- A label that is not numeric fails the CALL before a run is queued, naming it.
CALL train_price(training_data => TABLE (SELECT area, age, price::text AS price FROM houses),
  label => 'price', model_name => 'bad');
