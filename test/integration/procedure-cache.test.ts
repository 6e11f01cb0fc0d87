import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/catalog/index.js';
import { silentLogger } from '../../src/log/logger.js';
import { ProcedureCache } from '../../src/server/procedure-cache.js';
import { connectionUrl, createTestDatabase, eventually, type TestDatabase } from '../support/test-database.js';

let db: TestDatabase;
let client: pg.Client;
let cache: ProcedureCache;

beforeAll(async () => {
  db = await createTestDatabase('procedure_cache');
  client = new pg.Client(db.direct);
  await client.connect();
  await migrate(client);
  await createProcedure('before');
  cache = await ProcedureCache.open(connectionUrl(db.direct), silentLogger());
});

afterAll(async () => {
  await cache.close();
  await client.end();
  await db.drop();
});

async function createProcedure(name: string): Promise<void> {
  await client.query(
    `SELECT * FROM procgate.create_procedure(name => $1, language => 'command', command => 'echo',
                                             execution_mode => 'nondistributed')`,
    [name],
  );
}

function lookUp(name: string): Promise<boolean> {
  return Promise.resolve(cache.lookup(name) !== undefined);
}

describe('the procedure cache', () => {
  it('loads the catalog, follows its changes, and reconnects after losing its connection', async () => {
    expect(cache.lookup('before')).toEqual({ parameters: null });
    await createProcedure('created');
    expect(await eventually(() => lookUp('created'), (found) => found)).toBe(true);

    const terminated = await client.query(
      "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'procgate catalog' AND datname = current_database()",
    );
    expect(terminated.rows).toEqual([{ ok: true }]);
    // Created while the cache is away: the reload after reconnecting finds it.
    await createProcedure('while_away');
    expect(await eventually(() => lookUp('while_away'), (found) => found, 5000)).toBe(true);
    await createProcedure('after');
    expect(await eventually(() => lookUp('after'), (found) => found, 5000)).toBe(true);
  });
});
