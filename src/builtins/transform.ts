import { executeAsRole } from '../engine/as-caller.js';
import type { ProcedureType } from '../engine/procedure-type.js';
import { TypeParameterError } from '../engine/type-parameter-error.js';

/**
 * `transform` (MLDB's name): the TABLE query does the transforming; each
 * segment writes its share of the query's rows into the INTO table, inside
 * PostgreSQL (INSERT ... SELECT as the caller), in the transaction that
 * records the segment's end. Columns go by position.
 */
export const transform: ProcedureType = {
  name: 'transform',
  summary: 'writes the rows of a query into the INTO table inside PostgreSQL, one share per segment',
  parameters: [
    {
      name: 'input',
      kind: 'table',
      required: true,
      description: 'TABLE (select): the rows to write, computed by the select',
    },
  ],
  run(context) {
    const input = context.inputs[0];
    const output = context.outputs[0];
    if (input === undefined) return Promise.reject(new TypeParameterError('transform needs a TABLE argument "input"'));
    if (output === undefined) return Promise.reject(new TypeParameterError('transform needs an INTO table'));
    if (input.columns.length !== output.columns.length) {
      return Promise.reject(
        new TypeParameterError(
          `the input has ${String(input.columns.length)} columns but INTO table "${output.name}" has ${String(output.columns.length)}`,
        ),
      );
    }
    return Promise.resolve({
      load: async (client) => {
        const staging = `procgate_staging.${client.escapeIdentifier(input.table)}`;
        // The caller reads its share through a function of the engine's: no grant on the staging table,
        // which concurrent segments would otherwise race to change.
        await client.query(
          `CREATE FUNCTION pg_temp.procgate_share() RETURNS SETOF ${staging}
           LANGUAGE sql STABLE SECURITY DEFINER AS $fn$ SELECT * FROM ${staging} WHERE ${context.shareOf(input)} $fn$`,
        );
        const into = output.columns.map((column) => client.escapeIdentifier(column.name)).join(', ');
        const from = input.columns.map((column) => `s.${client.escapeIdentifier(column.name)}`).join(', ');
        const rows = await executeAsRole(
          client,
          context.role,
          `INSERT INTO ${output.table} (${into}) SELECT ${from} FROM pg_temp.procgate_share() AS s`,
        );
        await client.query('DROP FUNCTION pg_temp.procgate_share()');
        return rows;
      },
    });
  },
};
