import type pg from 'pg';

/**
 * What EXECUTE checks of a parameter beyond its kind, declared by the type
 * and checked by PostgreSQL (schema/definitions/base/type-checks.sql), so a
 * run that cannot succeed is never queued. Stored in the parameter's JSON
 * under the snake_case names.
 */
export interface ParameterChecks {
  /** A text value must be one of these (22023). */
  readonly allowed?: readonly string[];
  /** A number's bounds: at least, greater than, less than (22023). */
  readonly range?: { readonly atLeast?: number; readonly greaterThan?: number; readonly lessThan?: number };
  /** A text value must match `regex` (a POSIX regular expression), which `says` puts in words (22023). */
  readonly pattern?: { readonly regex: string; readonly says: string };
  /**
   * The value names a model of procgate.models the caller sees (42704), of
   * one of `types` (any when empty; else 42809), with a SQL function when
   * `sqlFunction` (22023).
   */
  readonly model?: { readonly types: readonly string[]; readonly sqlFunction?: boolean };
  /** The value (each one of a text[]) names a column of this TABLE parameter (42703). */
  readonly columnOf?: string;
  /** With columnOf: the column must be numeric (42804). */
  readonly numeric?: boolean;
  /** With columnOf, when no value is given: the label column of the model that this parameter names. */
  readonly modelDefault?: string;
  /**
   * On a TABLE parameter, its feature columns: every column but those the
   * `except` parameters name, or those the `namedBy` parameter names (all
   * without it), or the features of the model `ofModel` names (42703 for a
   * missing one); numeric if `numeric` (42804, naming every bad column).
   */
  readonly features?: {
    readonly numeric: boolean;
    readonly except?: readonly string[];
    readonly namedBy?: string;
    readonly ofModel?: string;
  };
}

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
    readonly checks?: ParameterChecks;
  }[];
}

/** The checks as the parameter's JSON keys (type-checks.sql reads them). */
function checkKeys(checks: ParameterChecks | undefined): Record<string, unknown> {
  if (checks === undefined) return {};
  const { features, model, pattern } = checks;
  const keys: Record<string, unknown> = {
    allowed: checks.allowed,
    at_least: checks.range?.atLeast,
    greater_than: checks.range?.greaterThan,
    less_than: checks.range?.lessThan,
    pattern: pattern?.regex,
    pattern_says: pattern?.says,
    model: model === undefined ? undefined : { types: model.types, sql_function: model.sqlFunction ?? false },
    column_of: checks.columnOf,
    numeric: checks.numeric,
    model_default: checks.modelDefault,
    features:
      features === undefined
        ? undefined
        : {
            numeric: features.numeric,
            except: features.except,
            named_by: features.namedBy,
            of_model: features.ofModel,
          },
  };
  return JSON.parse(JSON.stringify(keys)) as Record<string, unknown>;
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
      ...checkKeys(parameter.checks),
    })),
  }));
  await client.query(
    `INSERT INTO procgate_internal.procedure_types (name, summary, parameters)
     SELECT t.name, t.summary, t.parameters FROM jsonb_to_recordset($1::jsonb) AS t (name text, summary text, parameters jsonb)
     ON CONFLICT (name) DO UPDATE SET summary = EXCLUDED.summary, parameters = EXCLUDED.parameters`,
    [JSON.stringify(rows)],
  );
}
