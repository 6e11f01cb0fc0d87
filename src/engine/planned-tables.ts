import type { TableColumn } from './segment-task.js';

/**
 * What planning made of a run's tables, kept on its row (runs.staged_inputs
 * and runs.resolved_outputs, jsonb) for every segment to read.
 */

/** A TABLE argument read into its staging table. */
export interface StagedInput {
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
