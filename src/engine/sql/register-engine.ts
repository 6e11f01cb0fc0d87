import type { EngineIsolation, EnginesTable } from '../../catalog/index.js';
import type { Queryable } from './queryable.js';
import type { RowOf } from './row-of.js';

/** What an engine says of itself in procgate.engines. */
export type EngineRegistration = Pick<RowOf<EnginesTable>, 'worker' | 'host' | 'pid' | 'slots'> & {
  readonly isolation: EngineIsolation;
  readonly leaseMs: number;
};

/** engine_register: the engine's row, live for a lease from now (each heartbeat renews it). */
export async function registerEngine(db: Queryable, engine: EngineRegistration): Promise<void> {
  await db.query('SELECT procgate_internal.engine_register($1, $2, $3, $4, $5, $6::interval)', [
    engine.worker,
    engine.host,
    engine.pid,
    engine.slots,
    engine.isolation,
    `${String(engine.leaseMs)} milliseconds`,
  ]);
}

/** engine_unregister: the engine's row goes as it stops. */
export async function unregisterEngine(db: Queryable, worker: string): Promise<void> {
  await db.query('SELECT procgate_internal.engine_unregister($1)', [worker]);
}
