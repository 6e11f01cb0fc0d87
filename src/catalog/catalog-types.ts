import type { ColumnType, Generated } from 'kysely';
import type { EngineIsolation, ProcgateDatabase } from './catalog-views.js';
import type {
  JsonValue,
  TypedValues,
  RunState,
  ProcedureLanguage,
  ExecutionMode,
  OutputStream,
  ParameterDefinition,
  ReturnColumn,
  InputQuery,
  PostgresInterval,
} from './stored-values.js';

/**
 * Types of the procgate schema for kysely, as the `pg` driver returns rows:
 * jsonb parsed, timestamptz as Date, bigint and numeric as strings (they
 * can exceed a JavaScript number), interval as a postgres-interval object.
 *
 * @example
 * const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
 * const queued = await db.selectFrom('procgate.runs').selectAll().where('state', '=', 'queued').execute();
 */

export * from './catalog-views.js';
export * from './stored-values.js';

/** jsonb: read parsed, written as JSON text. */
type Jsonb<T> = ColumnType<T, string, string>;
type NullableJsonb<T> = ColumnType<T | null, string | null, string | null>;
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null, Date | string | null>;
/** int8 and numeric arrive as strings. */
type Int8 = ColumnType<string, string | number | bigint, string | number | bigint>;
type Numeric = ColumnType<string, string | number, string | number>;

export interface SchemaMigrationsTable {
  version: number;
  name: string;
  applied_at: Generated<Date>;
}

export interface ProceduresTable {
  id: ColumnType<string, never, never>;
  name: string;
  language: ProcedureLanguage;
  type_name: string | null;
  command: string | null;
  args: Generated<string[]>;
  execution_mode: Generated<ExecutionMode>;
  /** NULL: free-form procedure. */
  parameters: NullableJsonb<ParameterDefinition[]>;
  returns: NullableJsonb<ReturnColumn[]>;
  options: Generated<Jsonb<TypedValues>>;
  owner: string;
  /** Roles granted EXECUTE; `public` for PUBLIC. */
  execute_roles: Generated<string[]>;
  created_at: Generated<Timestamp>;
}

export interface ProcedureFilesTable {
  procedure_id: Int8;
  path: string;
  content: Buffer;
}

export interface RunsTable {
  run_id: Generated<string>;
  procedure_id: Int8 | null;
  procedure: string;
  state: Generated<RunState>;
  run_tag: string | null;
  params: Generated<Jsonb<TypedValues>>;
  input_queries: Generated<Jsonb<InputQuery[]>>;
  output_tables: Generated<string[]>;
  options: Generated<Jsonb<TypedValues>>;
  submitted_by: string;
  created_at: Generated<Timestamp>;
  started_at: NullableTimestamp;
  finished_at: NullableTimestamp;
  progress: Generated<Numeric>;
  segments_total: number | null;
  segments_succeeded: Generated<number>;
  segments_failed: Generated<number>;
  rows_in: Generated<Int8>;
  rows_out: Generated<Int8>;
  error: string | null;
  results: NullableJsonb<JsonValue>;
  worker: string | null;
  heartbeat_at: NullableTimestamp;
  /** The SQLSTATE of what failed the run, when known (schema version 6). */
  error_code: string | null;
}

export interface RunSegmentsTable {
  run_id: string;
  segment: number;
  state: Generated<RunState>;
  worker: string | null;
  pid: number | null;
  attempt: Generated<number>;
  lease_until: NullableTimestamp;
  started_at: NullableTimestamp;
  finished_at: NullableTimestamp;
  exit_code: number | null;
  rows_in: Generated<Int8>;
  rows_out: Generated<Int8>;
  progress: Generated<Numeric>;
  message: string | null;
  results: NullableJsonb<JsonValue>;
  error_code: string | null;
  /** The segment had nothing to do: it is no share of the run's work (its progress). */
  idle: Generated<boolean>;
}

export interface RunOutputTable {
  run_id: string;
  segment: Generated<number>;
  stream: OutputStream;
  line_no: Int8;
  line: string;
  at: Generated<Timestamp>;
}

/** An EXECUTE PROCEDURE ... WITH (execute_at_startup = true): each engine start queues a run of it. */
export interface StartupRunsTable {
  id: ColumnType<string, never, never>;
  procedure_id: Int8;
  run_tag: string | null;
  params: Generated<Jsonb<TypedValues>>;
  input_queries: Generated<Jsonb<InputQuery[]>>;
  output_tables: Generated<string[]>;
  options: Generated<Jsonb<TypedValues>>;
  submitted_by: string;
  /** The submitter of the runs it starts: execute_at_startup_as, else submitted_by. */
  run_as: string;
  created_at: Generated<Timestamp>;
}

export interface EnvironmentsTable {
  name: string;
  /** Environment variables: names `^[A-Za-z_][A-Za-z0-9_]*$`, not PATH, PG* or PROCGATE_*. */
  variables: Generated<Jsonb<Readonly<Record<string, string>>>>;
  /** Absolute directories put before the engine's PATH, in order. */
  path_prefix: Generated<string[]>;
  owner: string;
  created_at: Generated<Timestamp>;
}

/** An engine, registered while it runs (procgate.engines shows them). */
export interface EnginesTable {
  worker: string;
  host: string;
  pid: number;
  slots: number;
  isolation: EngineIsolation;
  lease: ColumnType<PostgresInterval, string, string>;
  started_at: Generated<Date>;
  heartbeat_at: Generated<Date>;
}

/** The procgate schema as kysely sees it: storage tables and the views users read. */
export interface Database extends ProcgateDatabase {
  'procgate_internal.schema_migrations': SchemaMigrationsTable;
  'procgate_internal.procedures': ProceduresTable;
  'procgate_internal.procedure_files': ProcedureFilesTable;
  'procgate_internal.runs': RunsTable;
  'procgate_internal.run_segments': RunSegmentsTable;
  'procgate_internal.run_output': RunOutputTable;
  'procgate_internal.environments': EnvironmentsTable;
  'procgate_internal.startup_runs': StartupRunsTable;
  'procgate_internal.engines': EnginesTable;
}
