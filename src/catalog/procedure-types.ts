import type pg from 'pg';

/** A built-in procedure type as the catalog knows it: what CREATE and EXECUTE check its arguments against. */
export interface ProcedureTypeDescription {
  readonly name: string;
  readonly summary: string;
  readonly parameters: readonly {
    readonly name: string;
    readonly kind: string;
    readonly required: boolean;
    readonly description: string;
    readonly default?: unknown;
  }[];
}

/**
 * Writes the built-in types' parameters into procgate_internal.procedure_types,
 * where CREATE and EXECUTE check them. Types come and change with the code,
 * so whoever registers them (serve, worker) does this each time it starts,
 * after migrate().
 *
 * @example
 * await syncProcedureTypes(client, [...builtins.values()]);
 */
export async function syncProcedureTypes(
  client: pg.Client | pg.PoolClient,
  types: Iterable<ProcedureTypeDescription>,
): Promise<void> {
  const rows = [...types].map((type) => ({
    name: type.name,
    summary: type.summary,
    parameters: type.parameters.map((parameter) => ({
      name: parameter.name,
      kind: parameter.kind,
      required: parameter.required,
      description: parameter.description,
      ...(parameter.default === undefined ? {} : { default: parameter.default }),
    })),
  }));
  await client.query(
    `INSERT INTO procgate_internal.procedure_types (name, summary, parameters)
     SELECT t.name, t.summary, t.parameters FROM jsonb_to_recordset($1::jsonb) AS t (name text, summary text, parameters jsonb)
     ON CONFLICT (name) DO UPDATE SET summary = EXCLUDED.summary, parameters = EXCLUDED.parameters`,
    [JSON.stringify(rows)],
  );
}
