import type pg from 'pg';
import type { ParameterChecks } from '../catalog/index.js';
import type { ResolvedOutput, StagedInput } from './run-planner.js';
import type { OutputLine, SegmentReport } from './segment-task.js';
import { TypeParameterError } from './type-parameter-error.js';

/**
 * A built-in procedure type (`CREATE PROCEDURE p TYPE 'name'`), MLDB's
 * typed procedures: a module with its parameters and a runner that works
 * inside PostgreSQL through the engine's connections. The engine defines
 * this contract; the types themselves live in src/builtins, whose TYPES
 * `serve` and `worker` hand to the engine (EngineOptions.procedureTypes).
 */
export interface ProcedureType {
  readonly name: string;
  /** One line for SHOW and the docs. */
  readonly summary: string;
  readonly parameters: readonly TypeParameter[];
  run(context: TypeContext): Promise<TypeOutcome>;
  /**
   * The columns of an INTO table that does not exist when neither RETURNS
   * TABLE nor a TABLE argument describes it (import.csv: the file's
   * header). Planning then creates the table with them, as the caller,
   * like any INTO table. Without it, or when it gives undefined, such a
   * run fails at planning.
   */
  outputColumns?(context: OutputContext): Promise<readonly OutputColumn[] | undefined>;
}

/** What outputColumns is given: the run's parameters and the INTO table's position. */
export interface OutputContext {
  /** The run's parameters as plain values, with the type's defaults. */
  readonly params: Readonly<Record<string, unknown>>;
  /** 0 for the first INTO table. */
  readonly position: number;
  /** The planning transaction's connection, as the engine: for reading, never for the caller's data. */
  readonly client: pg.ClientBase;
  /** The engine's --files-dir; undefined without one. */
  readonly filesDir: string | undefined;
}

/** A column of an INTO table to create: its name and SQL type. */
export interface OutputColumn {
  readonly name: string;
  readonly type: string;
}

export interface TypeParameter {
  readonly name: string;
  /** `table` for a TABLE argument, else the JSON shape the value must have. */
  readonly kind: 'table' | 'text' | 'text[]' | 'integer' | 'numeric' | 'boolean';
  readonly required: boolean;
  /** The value when none is given (a parameter with a default is never missing). */
  readonly default?: unknown;
  readonly description: string;
  /** What EXECUTE checks beyond the kind (allowed values, models, columns); the runner checks again. */
  readonly checks?: ParameterChecks;
}

/** What a type's runner gets for one segment. */
export interface TypeContext {
  readonly runId: string;
  readonly segment: number;
  readonly segmentCount: number;
  /** The run's parameters as plain values (`{ name: value }`), checked against the type's parameters. */
  readonly params: Readonly<Record<string, unknown>>;
  /** The engine's pool: a runner acts as `role` (see executeAsRole), never as the engine. */
  readonly pool: pg.Pool;
  /** The role that submitted the run. */
  readonly role: string;
  readonly inputs: readonly StagedInput[];
  readonly outputs: readonly ResolvedOutput[];
  /** The WHERE condition that selects this segment's share of a staged input. */
  shareOf(input: StagedInput): string;
  report(event: SegmentReport): void;
  readonly signal: AbortSignal;
  /** The engine's --files-dir, where import.csv and export.csv read and write; undefined without one. */
  readonly filesDir: string | undefined;
}

export interface TypeOutcome {
  readonly results?: Readonly<Record<string, unknown>>;
  /**
   * Rows read, for rows_in (report them as they are read with a `rows`
   * event, too); left out: the rows `load` writes, else as reported.
   */
  readonly rowsIn?: number;
  /** Rows written outside `load` (report them as they are written, too), for rows_out. */
  readonly rowsOut?: number;
  /**
   * The segment had nothing to do (the type's work is all in another
   * segment): it is then no share of the run's progress.
   */
  readonly idle?: boolean;
  /** Lines for run_output (the last max_output_lines per stream are kept). */
  readonly output?: readonly OutputLine[];
  /**
   * Writes the segment's output rows inside the transaction that records
   * its end (fenced like any output), returning the rows written into the
   * INTO tables (or the file), for rows_out.
   */
  readonly load?: (client: pg.PoolClient) => Promise<number>;
}

/**
 * The run's plain parameters checked against the type's: unknown names,
 * missing required ones and values of the wrong shape are refused.
 */
export function checkParameters(
  type: ProcedureType,
  params: Readonly<Record<string, unknown>>,
  tables: readonly string[],
): void {
  const known = new Map(type.parameters.map((parameter) => [parameter.name, parameter]));
  for (const name of [...Object.keys(params), ...tables]) {
    if (!known.has(name)) {
      const names = type.parameters.map((parameter) => parameter.name).join(', ');
      throw new TypeParameterError(`type "${type.name}" has no parameter "${name}" (its parameters: ${names})`);
    }
  }
  for (const parameter of type.parameters) {
    const given = parameter.kind === 'table' ? tables.includes(parameter.name) : params[parameter.name] !== undefined;
    if (!given) {
      if (parameter.required && parameter.default === undefined) throw new TypeParameterError(`type "${type.name}" needs parameter "${parameter.name}"`);
      continue;
    }
    if (parameter.kind === 'table') continue;
    if (tables.includes(parameter.name)) {
      throw new TypeParameterError(`parameter "${parameter.name}" of type "${type.name}" is not a table`);
    }
    if (!fits(parameter.kind, params[parameter.name])) {
      throw new TypeParameterError(`parameter "${parameter.name}" of type "${type.name}" must be ${parameter.kind}`);
    }
  }
}

/** The parameters with the type's defaults filled in where none was given. */
export function withDefaults(type: ProcedureType, params: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const filled: Record<string, unknown> = { ...params };
  for (const parameter of type.parameters) {
    if (parameter.kind !== 'table' && filled[parameter.name] === undefined && parameter.default !== undefined) {
      filled[parameter.name] = parameter.default;
    }
  }
  return filled;
}

function fits(kind: TypeParameter['kind'], value: unknown): boolean {
  switch (kind) {
    case 'text':
      return typeof value === 'string';
    case 'text[]':
      return Array.isArray(value) && value.every((item) => typeof item === 'string');
    case 'integer':
      return Number.isInteger(value);
    case 'numeric':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'table':
      return false;
  }
}
