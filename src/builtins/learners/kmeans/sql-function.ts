import { sqlFloat8, sqlIdentifier } from '../sql-quoting.js';

/**
 * The nearest centroid as a SQL function: each centroid's squared distance
 * summed feature by feature in the order ml-distance-euclidean sums them
 * (same doubles, same float8 arithmetic), the smallest first and ties to
 * the lowest cluster, as ml-nearest-vector's strict `<` scan does.
 */
export function kmeansFunction(
  name: string,
  features: readonly string[],
  centroids: readonly (readonly number[])[],
): string {
  const distances = centroids.map((centroid, cluster) => {
    const terms = centroid.map((value, i) => {
      const difference = `($${String(i + 1)} - ${sqlFloat8(value)})`;
      return `${difference} * ${difference}`;
    });
    return `(${String(cluster)}, ${terms.join(' + ')})`;
  });
  const args = features.map((feature) => `${sqlIdentifier(feature)} double precision`).join(', ');
  return `CREATE FUNCTION procgate_models.${sqlIdentifier(name)}(${args}) RETURNS int
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $procgate_model$
SELECT c.cluster FROM (VALUES
  ${distances.join(',\n  ')}
) AS c (cluster, distance)
ORDER BY c.distance, c.cluster
LIMIT 1
$procgate_model$`;
}
