import type { SelectType, Selectable } from 'kysely';

/**
 * A table's row as the `pg` driver returns it: kysely's Selectable, with a
 * column type nested in another unwrapped too (the catalog's
 * `Generated<Jsonb<T>>` selects as T).
 */
export type RowOf<Table> = { [K in keyof Selectable<Table>]: SelectType<Selectable<Table>[K]> };
