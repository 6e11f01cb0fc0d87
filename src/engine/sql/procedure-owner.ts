import type { ProceduresTable } from '../../catalog/index.js';
import type { Queryable } from './queryable.js';
import type { RowOf } from './row-of.js';

export interface ProcedureOwner {
  readonly name: RowOf<ProceduresTable>['name'];
  readonly owner: RowOf<ProceduresTable>['owner'];
  readonly superuser: boolean;
}

/** engine_procedure_owner: a procedure's name, its owner and whether that is a superuser; undefined when it is gone. */
export async function procedureOwner(
  db: Queryable,
  procedureId: RowOf<ProceduresTable>['id'],
): Promise<ProcedureOwner | undefined> {
  const { rows } = await db.query<ProcedureOwner>('SELECT * FROM procgate_internal.engine_procedure_owner($1)', [
    procedureId,
  ]);
  return rows[0];
}
