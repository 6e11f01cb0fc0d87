import { readFileSync } from 'node:fs';
import type pg from 'pg';

/** Fisher's iris (data/iris.csv): its four feature columns. */
export const IRIS_FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];

export interface IrisRow {
  id: number;
  features: number[];
  species: string;
}

/** data/iris.csv as (id, features..., species) rows, ids from 1 in file order. */
export function irisRows(): IrisRow[] {
  const [, ...lines] = readFileSync(new URL('../../data/iris.csv', import.meta.url), 'utf8').trim().split('\n');
  return lines.map((line, i) => {
    const cells = line.split(',');
    return { id: i + 1, features: cells.slice(0, 4).map(Number), species: cells[4] as string };
  });
}

/** The table iris (id, the features as numeric, species), created if missing and filled with the 150 rows. */
export async function loadIris(client: pg.Client): Promise<void> {
  await client.query(
    `CREATE TABLE IF NOT EXISTS iris (id int PRIMARY KEY, ${IRIS_FEATURES.map((f) => `${f} numeric`).join(', ')},
       species text)`,
  );
  await client.query('TRUNCATE iris');
  await client.query('INSERT INTO iris SELECT * FROM json_populate_recordset(NULL::iris, $1)', [
    JSON.stringify(
      irisRows().map((row) => ({
        id: row.id,
        ...Object.fromEntries(IRIS_FEATURES.map((f, i) => [f, row.features[i]])),
        species: row.species,
      })),
    ),
  ]);
}
