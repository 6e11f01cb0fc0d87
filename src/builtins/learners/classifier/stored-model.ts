import { DecisionTreeClassifier } from 'ml-cart';
import { RandomForestClassifier } from 'ml-random-forest';
import type pg from 'pg';
import { checkModelName } from '../model-store.js';
import { TypeParameterError } from '../../../engine/type-parameter-error.js';
import { predictScores, type ScoreModel } from './score-models.js';

/** A row of procgate.models as `role` may see it (any type). */
export interface ModelRecord {
  readonly name: string;
  readonly type: string;
  readonly algorithm: string;
  readonly featureNames: readonly string[];
  /** NULL for a model without labels (k-means). */
  readonly labelColumn: string | null;
  readonly labelValues: readonly string[];
  /** procgate_models.<name>, or null for an algorithm without a SQL form. */
  readonly sqlFunction: string | null;
  readonly owner: string;
  readonly model: unknown;
}

/** A classifier of procgate.models, loaded as its JavaScript model. */
export interface StoredClassifier extends ModelRecord {
  readonly labelColumn: string;
  /** The JavaScript model's predictions, as label values. */
  predict(rows: number[][]): string[];
}

interface ModelRow {
  name: string;
  type: string;
  algorithm: string;
  feature_names: string[];
  label_column: string | null;
  label_values: string[];
  sql_function: string | null;
  owner: string;
  model: unknown;
  visible: boolean;
}

/**
 * The model `name` as `role` may see it in procgate.models (its owner, or a
 * member of procgate_admin). A model that does not exist and one of
 * another owner fail alike, so that a run tells no more than the view.
 */
export async function findModel(pool: pg.Pool, name: unknown, role: string): Promise<ModelRecord> {
  const modelName = checkModelName(name);
  const { rows } = await pool.query<ModelRow>(
    `SELECT m.name, m.type, m.algorithm, m.feature_names, m.label_column, m.label_values, m.sql_function, m.owner,
            m.model, (m.owner = $2 OR pg_catalog.pg_has_role($2, 'procgate_admin', 'MEMBER')) AS visible
       FROM procgate_internal.models m WHERE m.name = $1`,
    [modelName, role],
  );
  const row = rows[0];
  if (row === undefined || !row.visible) {
    throw new TypeParameterError(`unknown model "${modelName}" (no model of that name in procgate.models that you can see)`);
  }
  return {
    name: row.name,
    type: row.type,
    algorithm: row.algorithm,
    featureNames: row.feature_names,
    labelColumn: row.label_column,
    labelValues: row.label_values,
    sqlFunction: row.sql_function,
    owner: row.owner,
    model: row.model,
  };
}

/** The classifier `name` (see findModel) with its JavaScript model. */
export async function loadClassifier(pool: pg.Pool, name: unknown, role: string): Promise<StoredClassifier> {
  const record = await findModel(pool, name, role);
  if (record.type !== 'classifier' || record.labelColumn === null) {
    throw new TypeParameterError(`model "${record.name}" is a ${record.type} model, not a classifier`);
  }
  const labels = record.labelValues;
  const toLabels = (indexes: readonly number[]): string[] =>
    indexes.map((index) => {
      const label = labels[index];
      if (label === undefined) {
        throw new Error(`model "${record.name}" predicts class ${String(index)} of ${String(labels.length)}`);
      }
      return label;
    });
  let predict: (rows: number[][]) => string[];
  switch (record.algorithm) {
    case 'random_forest': {
      const forest = RandomForestClassifier.load(record.model as never);
      predict = (x) => (x.length === 0 ? [] : toLabels(forest.predict(x) as number[]));
      break;
    }
    case 'decision_tree': {
      const tree = DecisionTreeClassifier.load(record.model);
      predict = (x) => (x.length === 0 ? [] : toLabels(tree.predict(x)));
      break;
    }
    case 'logistic_regression':
    case 'naive_bayes': {
      const model = record.model as ScoreModel;
      predict = (x) => toLabels(predictScores(model, x));
      break;
    }
    default:
      throw new TypeParameterError(`model "${record.name}" has algorithm "${record.algorithm}", which procgate cannot load`);
  }
  return { ...record, labelColumn: record.labelColumn, predict };
}
