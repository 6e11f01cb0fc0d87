import type { ProcedureType } from '../../engine/procedure-type.js';
import { TypeParameterError } from '../../engine/type-parameter-error.js';
import { existingModelParameter, TEST_DATA_PARAMETER } from './training-parameters.js';
import { predictorOf, readRegressionData, regressionMetrics } from './regression/model.js';

/**
 * `regression.test` (MLDB's name): a regression model of procgate.models
 * (the caller's, or any for procgate_admin) on the TABLE `test_data`,
 * which has the model's feature columns (by name) and a numeric label:
 * R², RMSE and MAE in the run's results. Segment 0 reads all the rows.
 */
export const regressionTest: ProcedureType = {
  name: 'regression.test',
  summary: 'evaluates a regression model on a table: R², RMSE, MAE',
  parameters: [
    existingModelParameter('a regression model of procgate.models', ['regression']),
    TEST_DATA_PARAMETER,
    {
      name: 'label',
      kind: 'text',
      required: false,
      description: "the numeric target column (default: the model's label column)",
      checks: { columnOf: 'test_data', numeric: true, modelDefault: 'model_name' },
    },
  ],
  async run(context) {
    if (context.segment !== 0) return { results: { tested_by_segment: 0 }, idle: true };
    const modelName = context.params['model_name'] as string;
    const { rows } = await context.pool.query<{
      type: string;
      algorithm: string;
      feature_names: string[];
      label_column: string;
      model: unknown;
    }>(
      `SELECT type, algorithm, feature_names, label_column, model FROM procgate_internal.models
        WHERE name = $1 AND (owner = $2 OR pg_catalog.pg_has_role($2, 'procgate_admin', 'MEMBER'))`,
      [modelName, context.role],
    );
    const model = rows[0];
    if (model === undefined) throw new TypeParameterError(`no model "${modelName}" (in procgate.models, of yours)`);
    if (model.type !== 'regression') throw new TypeParameterError(`model "${modelName}" is a ${model.type}, not a regression`);
    const input = context.inputs.find((staged) => staged.name === 'test_data') ?? context.inputs[0];
    if (input === undefined) throw new TypeParameterError('regression.test needs a TABLE argument "test_data"');
    const label = (context.params['label'] as string | undefined) ?? model.label_column;
    const data = await readRegressionData(context.pool, input, label, model.feature_names);
    context.report({ kind: 'rows', read: data.x.length + data.skipped });
    context.report({ kind: 'progress', fraction: 0.5 });
    const predicted = predictorOf(model.algorithm, model.model)(data.x);
    context.report({ kind: 'progress', fraction: 1 });
    return {
      rowsIn: data.x.length + data.skipped,
      results: {
        model: modelName,
        algorithm: model.algorithm,
        ...regressionMetrics(predicted, data.y),
        rows: data.y.length,
        skipped_rows: data.skipped,
      },
    };
  },
};
