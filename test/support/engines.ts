import type pg from 'pg';
import type { EngineIsolation } from '../../src/catalog/index.js';

/**
 * Registers an engine in procgate.engines, live for a day, without running
 * one: CREATE PROCEDURE of languages command and javascript by a
 * non-superuser needs a live engine that isolates users' code ('uid') or
 * trusts developers ('trusted'). `client` must be the migrating role.
 */
export async function registerEngine(client: pg.ClientBase, isolation: EngineIsolation, worker = `test-${isolation}`): Promise<string> {
  await client.query("SELECT procgate_internal.engine_register($1, 'test', 0, 1, $2, '1 day')", [worker, isolation]);
  return worker;
}

export async function unregisterEngine(client: pg.ClientBase, worker: string): Promise<void> {
  await client.query('SELECT procgate_internal.engine_unregister($1)', [worker]);
}
