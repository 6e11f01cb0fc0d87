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
  const { rows } = await db.query<SetupRow>(
    `SELECT procgate_internal.engine_environment($1) AS environment, f.path, f.content
       FROM (VALUES (1)) AS one (x) LEFT JOIN procgate_internal.engine_files($1) AS f ON true`,
    [procedureId],
  );
  return {
    environment: rows[0]?.environment ?? null,
    // Without files, the one row has none.
    files: rows.flatMap((row) =>
      row.path === null || row.content === null ? [] : [{ path: row.path, content: row.content }],
    ),
  };
}
