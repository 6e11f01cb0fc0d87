/**
 * The views of schema procgate as kysely sees them: what users read, never
 * write. catalog-types.ts adds the storage tables for procgate's own code.
 */
import type { ColumnType } from 'kysely';
import type {
  JsonValue,
  TypedValues,
  RunState,
  ProcedureLanguage,
  ExecutionMode,
  OutputStream,
  ParameterDefinition,
  InputQuery,
  FileEntry,
  PostgresInterval,
} from './stored-values.js';

/** Views are read-only: selectable, never insertable or updatable. */
type ReadOnly<Row> = { [K in keyof Row]: ColumnType<Row[K], never, never> };

export type ProceduresView = ReadOnly<{
  name: string;
  type: string | null;
  language: ProcedureLanguage;
  command: string | null;
  args: string[];
  execution_mode: ExecutionMode;
  files: FileEntry[];
  parameters: ParameterDefinition[] | null;
  options: TypedValues;
  owner: string;
  created_at: Date;
}>;

export type RunsView = ReadOnly<{
  run_id: string;
  procedure: string;
  state: RunState;
  run_tag: string | null;
  params: TypedValues;
  input_queries: InputQuery[];
  output_tables: string[];
  options: TypedValues;
  submitted_by: string;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  /** NULL until the run starts; grows until it finishes. */
  duration: PostgresInterval | null;
  progress: string;
  segments_total: number | null;
  segments_succeeded: number;
  segments_failed: number;
  rows_in: string;
  rows_out: string;
  error: string | null;
  results: JsonValue | null;
  worker: string | null;
  heartbeat_at: Date | null;
}>;

export type RunSegmentsView = ReadOnly<{
  run_id: string;
  segment: number;
  state: RunState;
  worker: string | null;
  pid: number | null;
  attempt: number;
  started_at: Date | null;
  finished_at: Date | null;
  exit_code: number | null;
  rows_in: string;
  rows_out: string;
  progress: string;
  message: string | null;
  results: JsonValue | null;
}>;

export type RunOutputView = ReadOnly<{
  run_id: string;
  segment: number;
  stream: OutputStream;
  line_no: string;
  line: string;
  at: Date;
}>;

export type StartupRunsView = ReadOnly<{
  id: string;
  procedure: string;
  run_tag: string | null;
  params: TypedValues;
  input_queries: InputQuery[];
  output_tables: string[];
  options: TypedValues;
  submitted_by: string;
  run_as: string;
  created_at: Date;
}>;

export type EnvironmentsView = ReadOnly<{
  name: string;
  variables: Readonly<Record<string, string>>;
  path_prefix: string[];
  owner: string;
  created_at: Date;
}>;

/** A parameter a built-in TYPE takes (procgate.procedure_types.parameters). */
export interface TypeParameter {
  readonly name: string;
  readonly kind: 'table' | 'text' | 'text[]' | 'integer' | 'numeric' | 'boolean';
  readonly required: boolean;
  readonly default?: JsonValue;
  readonly description: string;
}

export type ProcedureTypesView = ReadOnly<{
  name: string;
  summary: string;
  parameters: TypeParameter[];
}>;

export type ModelsView = ReadOnly<{
  name: string;
  type: string;
  algorithm: string;
  feature_names: string[];
  feature_types: string[];
  label_column: string | null;
  label_values: string[] | null;
  hyperparameters: JsonValue;
  metrics: JsonValue;
  model: JsonValue;
  /** The generated SQL function that applies the model, e.g. `procgate_models.iris_forest`. */
  sql_function: string | null;
  owner: string;
  created_by_run: string | null;
  created_at: Date;
}>;

export type RunMetricsView = ReadOnly<{
  run_id: string;
  step: number;
  metric: string;
  value: number;
  at: Date;
}>;

/** How an engine runs users' code: as unprivileged uids, or as procgate's own user (trusted developers, or superusers' code only). */
export type EngineIsolation = 'uid' | 'trusted' | 'none';

export type EnginesView = ReadOnly<{
  worker: string;
  host: string;
  pid: number;
  slots: number;
  isolation: EngineIsolation;
  started_at: Date;
  heartbeat_at: Date;
  /** Its heartbeat is within its lease. */
  live: boolean;
}>;

/**
 * The relations users read, for a typed kysely app (the `pg` driver's row
 * types). Runs are started with statements, through kysely's `sql` tag.
 *
 * @example
 * import { Kysely, PostgresDialect, sql } from 'kysely';
 * import pg from 'pg';
 * import type { ProcgateDatabase } from 'procgate';
 * const db = new Kysely<ProcgateDatabase>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString }) }) });
 * const failed = await db.selectFrom('procgate.runs').select(['run_id', 'error']).where('state', '=', 'failed').execute();
 */
export interface ProcgateDatabase {
  'procgate.procedures': ProceduresView;
  'procgate.runs': RunsView;
  'procgate.run_segments': RunSegmentsView;
  'procgate.run_output': RunOutputView;
  'procgate.environments': EnvironmentsView;
  'procgate.startup_runs': StartupRunsView;
  'procgate.procedure_types': ProcedureTypesView;
  'procgate.models': ModelsView;
  'procgate.run_metrics': RunMetricsView;
  'procgate.engines': EnginesView;
}
