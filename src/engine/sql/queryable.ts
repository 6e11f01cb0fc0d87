import type pg from 'pg';

/**
 * Where one of the engine's SQL operations runs: the pool, or a connection
 * inside a transaction of the caller's.
 */
export type Queryable = pg.Pool | pg.ClientBase;
