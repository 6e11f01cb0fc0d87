import { executeAsRole } from '../../engine/as-caller.js';
import { findModel } from './classifier/stored-model.js';
import { existingModelParameter } from './training-parameters.js';
import type { ProcedureType } from '../../engine/procedure-type.js';
import { TypeParameterError } from '../../engine/type-parameter-error.js';

/**
 * `model.apply`: batch scoring. Each segment writes its share of the TABLE
 * `input`, every column of it plus the model's prediction in
 * `prediction_column`, INTO the first INTO table, inside PostgreSQL: one
 * `INSERT ... SELECT s.*, procgate_models.<model>(features) FROM share`
 * as the caller, in the transaction that records the segment's end
 * (exactly once). The model's generated SQL function does the scoring (any
 * type of model that has one: classifier, regression, k-means), so the
 * caller needs EXECUTE on it (its owner has it).
 *
 * The engine creates a missing INTO table before the run with the input's
 * columns (or RETURNS TABLE); the prediction column is then added here, as
 * the caller (`ALTER TABLE ... ADD COLUMN IF NOT EXISTS`, typed as the
 * function's result), which needs the caller to own the table. Columns are
 * matched by name.
 */
export const modelApply: ProcedureType = {
  name: 'model.apply',
  summary: "scores a table with a model's SQL function into the INTO table, one share per segment",
  parameters: [
    existingModelParameter('the model (procgate.models) to score with', [], true),
    {
      name: 'input',
      kind: 'table',
      required: true,
      description: "TABLE (select): the rows to score; the model's feature columns by name",
      checks: { features: { numeric: false, ofModel: 'model_name' } },
    },
    { name: 'prediction_column', kind: 'text', required: false, default: 'prediction', description: 'the INTO column for the prediction' },
  ],
  async run(context) {
    const model = await findModel(context.pool, context.params['model_name'], context.role);
    // The function's result type (text for a classifier, double precision for a regression, int for k-means).
    const { rows: functions } = await context.pool.query<{ result: string }>(
      `SELECT pg_catalog.format_type(p.prorettype, NULL) AS result FROM pg_catalog.pg_proc p
        WHERE p.pronamespace = 'procgate_models'::regnamespace AND p.proname = $1`,
      [model.name],
    );
    const result = functions[0]?.result;
    if (model.sqlFunction === null || result === undefined) {
      throw new TypeParameterError(`model "${model.name}" has no SQL function procgate_models.${model.name} to score with`);
    }
    const input = context.inputs.find((staged) => staged.name === 'input') ?? context.inputs[0];
    if (input === undefined) throw new TypeParameterError('model.apply needs a TABLE argument "input"');
    const output = context.outputs[0];
    if (output === undefined) throw new TypeParameterError('model.apply needs an INTO table');
    const prediction = context.params['prediction_column'] as string;
    if (prediction === '') throw new TypeParameterError('prediction_column must not be empty');
    if (input.columns.some((column) => column.name === prediction)) {
      throw new TypeParameterError(`the input already has a column "${prediction}" (choose another prediction_column)`);
    }
    const names = input.columns.map((column) => column.name).join(', ');
    for (const feature of model.featureNames) {
      if (!input.columns.some((column) => column.name === feature)) {
        throw new TypeParameterError(`the input has no column "${feature}", a feature of model "${model.name}" (its columns: ${names})`);
      }
    }
    const existing = output.columns.find((column) => column.name === prediction);
    return {
      load: async (client) => {
        const id = (name: string): string => client.escapeIdentifier(name);
        if (existing === undefined) {
          // Segments load in turn here: ALTER TABLE waits for the table's lock, then finds the column.
          await executeAsRole(client, context.role, `ALTER TABLE ${output.table} ADD COLUMN IF NOT EXISTS ${id(prediction)} ${result}`);
        }
        const staging = `procgate_staging.${id(input.table)}`;
        // As transform does: the caller reads its share through a function of the engine's.
        await client.query(
          `CREATE FUNCTION pg_temp.procgate_share() RETURNS SETOF ${staging}
           LANGUAGE sql STABLE SECURITY DEFINER AS $fn$ SELECT * FROM ${staging} WHERE ${context.shareOf(input)} $fn$`,
        );
        const into = [...input.columns.map((column) => id(column.name)), id(prediction)].join(', ');
        const features = model.featureNames.map((feature) => `s.${id(feature)}::float8`).join(', ');
        const from = input.columns.map((column) => `s.${id(column.name)}`).join(', ');
        const rows = await executeAsRole(
          client,
          context.role,
          `INSERT INTO ${output.table} (${into})
           SELECT ${from}, procgate_models.${id(model.name)}(${features}) FROM pg_temp.procgate_share() AS s`,
        );
        await client.query('DROP FUNCTION pg_temp.procgate_share()');
        return rows;
      },
    };
  },
};
