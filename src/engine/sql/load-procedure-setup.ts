import type { EnvironmentsTable, ProcedureFilesTable, ProceduresTable } from '../../catalog/index.js';
import type { Queryable } from './queryable.js';
import type { RowOf } from './row-of.js';

/** What a procedure's programs are given besides the segment: its files and its environment. */
export interface ProcedureSetup {
  /** From the procedure's `set_environment`; null without one. */
  readonly environment: Pick<RowOf<EnvironmentsTable>, 'variables' | 'path_prefix'> | null;
  readonly files: ReadonlyArray<Pick<RowOf<ProcedureFilesTable>, 'path' | 'content'>>;
}

type SetupRow = {
  readonly environment: ProcedureSetup['environment'];
} & { readonly [K in 'path' | 'content']: RowOf<ProcedureFilesTable>[K] | null };

/** engine_environment and engine_files in one round trip: the environment on every row, a row per file. */
export async function loadProcedureSetup(db: Queryable, procedureId: RowOf<ProceduresTable>['id']): Promise<ProcedureSetup> {
  const { rows } = await db.query<SetupRow>({
    name: 'procgate_engine_procedure_setup',
    text: `SELECT procgate_internal.engine_environment($1) AS environment, f.path, f.content
             FROM (VALUES (1)) AS one (x) LEFT JOIN procgate_internal.engine_files($1) AS f ON true`,
    values: [procedureId],
  });
  return {
    environment: rows[0]?.environment ?? null,
    // Without files, the one row has none.
    files: rows.flatMap((row) =>
      row.path === null || row.content === null ? [] : [{ path: row.path, content: row.content }],
    ),
  };
}

/** Procedures' setups kept per engine (its pool), by setup_key; the least recently used go first. */
const setups = new WeakMap<Queryable, Map<string, ProcedureSetup>>();
const KEPT_SETUPS = 64;
/** FILES larger in all are read again each time rather than kept. */
const KEPT_BYTES = 4 * 1024 * 1024;

/**
 * The setup of a claimed segment's procedure, read once per version of it:
 * `setupKey` (from the claim) changes whenever the procedure is replaced
 * or its environment is, so a kept setup is never a stale one.
 */
export async function procedureSetupOf(
  db: Queryable,
  claimed: { readonly procedure_id: RowOf<ProceduresTable>['id']; readonly setup_key: string },
): Promise<ProcedureSetup> {
  let kept = setups.get(db);
  if (kept === undefined) {
    kept = new Map();
    setups.set(db, kept);
  }
  // A claim that names no version is read each time (never kept under a key it does not have).
  if (typeof claimed.setup_key !== 'string') return loadProcedureSetup(db, claimed.procedure_id);
  const hit = kept.get(claimed.setup_key);
  if (hit !== undefined) {
    kept.delete(claimed.setup_key);
    kept.set(claimed.setup_key, hit);
    return hit;
  }
  const setup = await loadProcedureSetup(db, claimed.procedure_id);
  if (setup.files.reduce((size, file) => size + file.content.length, 0) > KEPT_BYTES) return setup;
  kept.set(claimed.setup_key, setup);
  if (kept.size > KEPT_SETUPS) kept.delete(kept.keys().next().value!);
  return setup;
}
