-- Classification: train a random forest on Fisher's iris with one statement,
-- read its metrics, call it as an ordinary SQL function, evaluate it on rows
-- it never saw, and score a table in batch.
SET client_min_messages = warning;

-- The data: 150 flowers, 50 of each species, four measurements each (data/iris.csv;
-- the path is the repository's root's, where the README runs the examples from).
CREATE TABLE iris (
  id int GENERATED ALWAYS AS IDENTITY,
  sepal_length float8, sepal_width float8, petal_length float8, petal_width float8,
  species text);
\copy iris (sepal_length, sepal_width, petal_length, petal_width, species) FROM 'data/iris.csv' WITH (FORMAT csv, HEADER)
SELECT species, count(*) FROM iris GROUP BY species ORDER BY species;

-- Every fifth flower is kept aside for the evaluation further down; the forest
-- trains on the other 120. The TABLE query gives the label column (species)
-- and the features (every other column). Within those rows training holds out
-- its own test split (test_split, 0.2 by default); the seed fixes that split
-- and the forest, so the same call gives the same model.
CREATE PROCEDURE train_iris TYPE 'classifier.train';
CALL train_iris(
  training_data => TABLE (SELECT sepal_length, sepal_width, petal_length, petal_width, species
                            FROM iris WHERE id % 5 <> 0),
  label => 'species', model_name => 'iris_forest', algorithm => 'random_forest',
  n_estimators => 10, seed => 7);

-- The model: one row of procgate.models, accuracy measured on the held-out split.
SELECT name, type, algorithm, feature_names, label_column, label_values,
       round((metrics ->> 'accuracy')::numeric, 3) AS accuracy,
       (metrics ->> 'test_rows')::int AS test_rows,
       (metrics ->> 'train_rows')::int AS train_rows,
       sql_function
  FROM procgate.models;

-- Per-tree metrics, written while the forest grows: the accuracy of each
-- tree alone and of the forest so far (step -1: the final figures).
SELECT step, metric, round(value::numeric, 3) AS value
  FROM procgate.run_metrics
 WHERE metric IN ('forest_accuracy', 'accuracy') AND step <= 3
 ORDER BY step, metric;

-- The model is a function: any client, any SELECT, with or without procgate.
SELECT species,
       procgate_models.iris_forest(sepal_length, sepal_width, petal_length, petal_width) AS prediction,
       count(*)
  FROM iris GROUP BY 1, 2 ORDER BY 1, 2;

-- Evaluation on the 30 flowers kept aside. The confusion matrix goes INTO a
-- table: declare its shape with RETURNS TABLE so the engine creates it.
CREATE PROCEDURE evaluate_iris TYPE 'classifier.test'
  RETURNS TABLE (actual text, predicted text, n bigint);
CALL evaluate_iris(model_name => 'iris_forest',
  test_data => TABLE (SELECT * FROM iris WHERE id % 5 = 0)) INTO iris_confusion;
SELECT round((results -> '0' ->> 'accuracy')::numeric, 3) AS accuracy,
       round((results -> '0' ->> 'macro_f1')::numeric, 3) AS macro_f1,
       (results -> '0' ->> 'rows')::int AS rows
  FROM procgate.runs WHERE procedure = 'evaluate_iris';
SELECT c ->> 'class' AS class,
       round((c ->> 'precision')::numeric, 3) AS precision,
       round((c ->> 'recall')::numeric, 3) AS recall,
       round((c ->> 'f1')::numeric, 3) AS f1,
       (c ->> 'support')::int AS support
  FROM procgate.runs, jsonb_array_elements(results -> '0' -> 'per_class') AS c
 WHERE procedure = 'evaluate_iris' ORDER BY class;
SELECT actual, predicted, n FROM iris_confusion ORDER BY actual, predicted;

-- Batch scoring: model.apply copies the input rows INTO a table with a
-- prediction column, each segment scoring its share inside PostgreSQL.
CREATE PROCEDURE score_iris TYPE 'model.apply';
CALL score_iris(model_name => 'iris_forest', input => TABLE (iris))
  INTO iris_scored WITH (segments = 3);
SELECT state, segments_total FROM procgate.runs WHERE procedure = 'score_iris';
SELECT id, species, prediction FROM iris_scored WHERE id IN (1, 51, 101, 150) ORDER BY id;
SELECT count(*) AS scored, count(*) FILTER (WHERE species = prediction) AS right FROM iris_scored;

-- The other algorithms, on the same split: logistic regression (loss and
-- test accuracy every tenth epoch in run_metrics) and Gaussian naive Bayes.
-- Each model is a SQL function too.
CALL train_iris(
  training_data => TABLE (SELECT sepal_length, sepal_width, petal_length, petal_width, species FROM iris),
  label => 'species', model_name => 'iris_logistic', algorithm => 'logistic_regression', epochs => 200);
CALL train_iris(
  training_data => TABLE (SELECT sepal_length, sepal_width, petal_length, petal_width, species FROM iris),
  label => 'species', model_name => 'iris_bayes', algorithm => 'naive_bayes');
SELECT name, algorithm, round((metrics ->> 'accuracy')::numeric, 3) AS accuracy FROM procgate.models ORDER BY name;
SELECT m.step, round(m.value::numeric, 4) AS loss
  FROM procgate.run_metrics m JOIN procgate.models o ON o.created_by_run = m.run_id
 WHERE o.name = 'iris_logistic' AND m.metric = 'loss' AND m.step IN (10, 50, 100, 200) ORDER BY m.step;
SELECT species, procgate_models.iris_logistic(sepal_length, sepal_width, petal_length, petal_width) AS logistic,
       procgate_models.iris_bayes(sepal_length, sepal_width, petal_length, petal_width) AS bayes
  FROM iris WHERE id IN (1, 51, 101) ORDER BY id;

-- An algorithm that procgate does not know fails the CALL before a run is queued, naming the choices.
CALL train_iris(
  training_data => TABLE (SELECT sepal_length, sepal_width, petal_length, petal_width, species FROM iris),
  label => 'species', model_name => 'iris_svm', algorithm => 'svm');
