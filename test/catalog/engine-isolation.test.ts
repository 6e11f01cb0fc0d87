import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerEngine, unregisterEngine } from '../support/engines.js';
import {
  type CatalogDatabase,
  createCatalogDatabase,
  createLoginRole,
  dropRoles,
  expectSqlError,
  type LoginRole,
  one,
} from './catalog-fixture.js';

/*
 * Non-superusers create procedures of languages command and javascript only
 * while a live engine runs users' code as unprivileged users ('uid') or
 * trusts developers ('trusted'): an engine that does neither ('none')
 * would run their code with procgate's rights.
 */

let catalog: CatalogDatabase;
let admin: pg.Client;
let dev: LoginRole;
let asDev: pg.Client;
let created = 0;

beforeAll(async () => {
  catalog = await createCatalogDatabase('catalog_engine_isolation');
  admin = catalog.admin;
  // The fixture's isolating engine goes: each test registers what it needs.
  await unregisterEngine(admin, 'test-uid');
  dev = await createLoginRole(admin, 'dev');
  await admin.query(`GRANT procgate_developer TO ${dev.name}`);
  asDev = await catalog.connect(dev);
});

afterAll(async () => {
  await catalog.close();
  await dropRoles([dev]);
});

/** CREATE PROCEDURE of `language` as `client`, under a new name. */
function create(client: pg.Client, language: 'command' | 'javascript'): Promise<pg.QueryResult> {
  created += 1;
  const command = language === 'command' ? "command => 'true'" : 'command => NULL';
  return client.query(
    `SELECT * FROM procgate.create_procedure(name => 'p${String(created)}', language => '${language}', ${command})`,
  );
}

async function expectRefused(language: 'command' | 'javascript'): Promise<void> {
  const error = await expectSqlError(
    asDev,
    `SELECT * FROM procgate.create_procedure(name => 'refused', language => '${language}'${language === 'command' ? ", command => 'true'" : ''})`,
    '42501',
    `permission denied to create procedure "refused" of language ${language}: no engine isolates users' code`,
  );
  expect(error.hint).toMatch(/--trust-developers/);
}

describe('creating code procedures, by how the live engines isolate users\' code', () => {
  it('refuses a developer while no engine is live, and lets a superuser', async () => {
    await expectRefused('command');
    await expectRefused('javascript');
    await create(admin, 'command');
    await create(admin, 'javascript');
    // Built-in types run no user code.
    await asDev.query(
      "SELECT * FROM procgate.create_procedure(name => 'typed', language => 'type', type_name => 'sql', options => ARRAY[procgate.arg('statements', NULL, ARRAY['SELECT 1'])])",
    );
  });

  it('refuses a developer while the only live engine isolates nothing', async () => {
    const none = await registerEngine(admin, 'none');
    try {
      await expectRefused('command');
      expect(await one(asDev, "SELECT isolation, live FROM procgate.engines WHERE worker = 'test-none'")).toEqual({
        isolation: 'none',
        live: true,
      });
    } finally {
      await unregisterEngine(admin, none);
    }
  });

  it('lets a developer while an engine isolates or trusts developers, and not once its heartbeat is stale', async () => {
    for (const isolation of ['uid', 'trusted'] as const) {
      const worker = await registerEngine(admin, isolation);
      await create(asDev, 'command');
      await create(asDev, 'javascript');
      // Lost: its lease has run out since its last heartbeat.
      await admin.query(
        "UPDATE procgate_internal.engines SET heartbeat_at = clock_timestamp() - interval '2 days' WHERE worker = $1",
        [worker],
      );
      expect(await one(asDev, 'SELECT live FROM procgate.engines WHERE worker = $1', [worker])).toEqual({ live: false });
      await expectRefused('command');
      await unregisterEngine(admin, worker);
    }
  });

  it('renews an engine\'s row at its heartbeat, and forgets engines dead for a day when another registers', async () => {
    await registerEngine(admin, 'uid', 'test-beating');
    await admin.query(
      "UPDATE procgate_internal.engines SET heartbeat_at = clock_timestamp() - interval '2 days' WHERE worker = 'test-beating'",
    );
    await admin.query("SELECT * FROM procgate_internal.engine_heartbeat('test-beating', '10 seconds', '{}', '{}', '{}')");
    expect(await one(admin, "SELECT live FROM procgate.engines WHERE worker = 'test-beating'")).toEqual({ live: true });
    await admin.query(
      "UPDATE procgate_internal.engines SET heartbeat_at = clock_timestamp() - interval '2 days' WHERE worker = 'test-beating'",
    );
    await registerEngine(admin, 'uid', 'test-other');
    expect((await admin.query('SELECT worker FROM procgate.engines ORDER BY worker')).rows).toEqual([{ worker: 'test-other' }]);
    await unregisterEngine(admin, 'test-other');
  });

  it('keeps procgate.engines read-only and the engines\' functions closed', async () => {
    await expectSqlError(asDev, 'DELETE FROM procgate.engines', '42501');
    await expectSqlError(asDev, 'SELECT * FROM procgate_internal.engines', '42501');
    await expectSqlError(asDev, "SELECT procgate_internal.engine_register('x', 'h', 1, 1, 'trusted', '1 day')", '42501');
  });
});
