/**
 * The shapes of values the procgate schema stores in jsonb and text
 * columns, as the `pg` driver returns them: parameters with their SQL
 * types, declared parameters, TABLE arguments, run states.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A value with its SQL type: how parameters, defaults and options are stored. */
export interface TypedValue {
  readonly value: JsonValue;
  /** The type's SQL name, e.g. `integer`, `text[]`, `timestamp with time zone`. */
  readonly type: string;
}

export type TypedValues = Readonly<Record<string, TypedValue>>;

export const RUN_STATES = ['queued', 'running', 'cancelling', 'succeeded', 'failed', 'killed'] as const;
export type RunState = (typeof RUN_STATES)[number];

export const PROCEDURE_LANGUAGES = ['command', 'javascript', 'type'] as const;
export type ProcedureLanguage = (typeof PROCEDURE_LANGUAGES)[number];

export const EXECUTION_MODES = ['distributed', 'nondistributed'] as const;
export type ExecutionMode = (typeof EXECUTION_MODES)[number];

export type OutputStream = 'stdout' | 'stderr';

/** One declared parameter; `default` is present only when the parameter has one. */
export interface ParameterDefinition {
  readonly name: string;
  /** NULL for a TABLE parameter. */
  readonly type: string | null;
  readonly table: boolean;
  readonly default?: JsonValue;
}

export interface ReturnColumn {
  readonly name: string;
  readonly type: string;
}

/** A TABLE argument of a run, read when the run starts. */
export interface InputQuery {
  /** NULL only for a positional TABLE argument of a nondistributed free-form procedure. */
  readonly name: string | null;
  readonly query: string;
  /** Values of the `$n` placeholders inside `query`, keyed by n. */
  readonly placeholders: TypedValues;
  /** Source texts of the PARTITION BY expressions. */
  readonly partition_by: readonly string[];
}

export interface FileEntry {
  readonly path: string;
  readonly size: number;
}

/** What the pg driver returns for an interval. */
export interface PostgresInterval {
  readonly years?: number;
  readonly months?: number;
  readonly days?: number;
  readonly hours?: number;
  readonly minutes?: number;
  readonly seconds?: number;
  readonly milliseconds?: number;
  toPostgres(): string;
  toISO(): string;
}
