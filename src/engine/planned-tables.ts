import type { TableColumn } from './segment-task.js';

/**
 * What planning made of a run's tables, kept on its row (runs.staged_inputs
 * and runs.resolved_outputs, jsonb) for every segment to read.
 */

/** A TABLE argument, as each segment reads its share of it. */
export type PlannedInput = StagedInput | DirectInput;

/**
 * A TABLE argument read into its staging table when the run was planned
 * (`kind` is absent on runs planned before direct reads existed).
 */
export interface StagedInput {
  readonly kind?: 'staged';
  readonly name: string;
  /** In schema procgate_staging. */
  readonly table: string;
  /** With PARTITION BY: a `procgate_segment` column says each row's segment. */
  readonly partitioned: boolean;
  /** Without PARTITION BY: the table's size in blocks, split evenly between segments. */
  readonly blocks: number;
  readonly columns: readonly TableColumn[];
}

/** An INTO table, resolved (and created if missing) as the caller. */
export interface ResolvedOutput {
  /** As written in INTO. */
  readonly name: string;
  /** Schema-qualified and quoted. */
  readonly table: string;
  readonly columns: readonly TableColumn[];
}

/**
 * A TABLE argument each segment reads straight from its source, as the
 * caller, under the snapshot the planning engine exported for the run
 * (see run-planner.ts and input-snapshots.ts): no staging table.
 */
export interface DirectInput {
  readonly kind: 'direct';
  readonly name: string;
  /** pg_export_snapshot() of the planning engine's holder. */
  readonly snapshot: string;
  /**
   * `whole`: the run has one segment, which reads `query` whole. `scan`:
   * `query` is one plain scan (see plain-scan.ts) of a relation of
   * `blocks` blocks, and each segment adds its ctid range to `where`.
   */
  readonly read:
    | { readonly kind: 'whole'; readonly query: string }
    | { readonly kind: 'scan'; readonly select: string; readonly where: string | null; readonly blocks: number };
  readonly columns: readonly TableColumn[];
}

/** Whether a planned input was staged (runs planned before direct reads have no `kind`). */
export function isStaged(input: PlannedInput): input is StagedInput {
  return input.kind !== 'direct';
}
