-- Clustering: k-means groups rows by their features alone, with no label.
-- Here the four iris measurements are grouped into three clusters, which
-- are then compared with the species the clustering never saw.
SET client_min_messages = warning;

CREATE TABLE iris (
  sepal_length float8, sepal_width float8, petal_length float8, petal_width float8,
  species text);
\copy iris FROM 'data/iris.csv' WITH (FORMAT csv, HEADER)

-- The centroids go INTO a table with a cluster column and one column per
-- feature: declare that shape with RETURNS TABLE so the engine creates it.
-- The seed fixes the k-means++ start, so the same call gives the same clusters.
CREATE PROCEDURE cluster_iris TYPE 'kmeans.train'
  RETURNS TABLE (cluster int, sepal_length float8, sepal_width float8, petal_length float8, petal_width float8);
CALL cluster_iris(
  training_data => TABLE (SELECT sepal_length, sepal_width, petal_length, petal_width FROM iris),
  k => 3, seed => 1, model_name => 'iris_clusters')
  INTO iris_centroids;

SELECT cluster, round(sepal_length::numeric, 2) AS sepal_length, round(sepal_width::numeric, 2) AS sepal_width,
       round(petal_length::numeric, 2) AS petal_length, round(petal_width::numeric, 2) AS petal_width
  FROM iris_centroids ORDER BY cluster;

-- The run's results: rows per cluster and the inertia (the sum of squared
-- distances of the rows to their centroid: the smaller, the tighter).
SELECT results -> '0' -> 'cluster_sizes' AS cluster_sizes,
       round((results -> '0' ->> 'inertia')::numeric, 2) AS inertia,
       results -> '0' -> 'converged' AS converged
  FROM procgate.runs WHERE procedure = 'cluster_iris';
-- The inertia of each iteration, written while k-means runs (step -1: the final one).
SELECT step, round(value::numeric, 2) AS inertia
  FROM procgate.run_metrics WHERE metric = 'inertia' ORDER BY step;
SELECT name, type, algorithm, feature_names, label_values, hyperparameters ->> 'k' AS k
  FROM procgate.models;

-- The model is a function giving a row's nearest centroid: any client, any
-- SELECT. Set against the species: setosa stands apart, the other two overlap.
SELECT species,
       procgate_models.iris_clusters(sepal_length, sepal_width, petal_length, petal_width) AS cluster,
       count(*)
  FROM iris GROUP BY 1, 2 ORDER BY 1, 2;

-- k must be at most the number of rows: 1000 clusters of 150 rows fail the run.
CALL cluster_iris(
  training_data => TABLE (SELECT sepal_length, sepal_width, petal_length, petal_width FROM iris),
  k => 1000, model_name => 'too_many')
  INTO iris_centroids;
