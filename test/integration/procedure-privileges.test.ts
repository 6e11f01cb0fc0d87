import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerEngine } from '../support/engines.js';
import { createTestDatabase, startTestProxy, type TestDatabase, type TestProxy } from '../support/test-database.js';

let db: TestDatabase;
let proxy: TestProxy;
let admin: pg.Client;
const suffix = randomBytes(3).toString('hex');
const alice = `alice_${suffix}`;
const bob = `bob_${suffix}`;
const password = 'secret';

beforeAll(async () => {
  db = await createTestDatabase('privileges');
  proxy = await startTestProxy({ statements: db });
  admin = new pg.Client(proxy.config(db.name));
  await admin.connect();
  // Roles are cluster-wide: unique names, dropped at the end.
  await admin.query(`CREATE ROLE ${alice} LOGIN PASSWORD '${password}'; CREATE ROLE ${bob} LOGIN PASSWORD '${password}'`);
  await admin.query(`GRANT CONNECT ON DATABASE ${db.name} TO ${alice}, ${bob}`);
  // No engine runs here: one that isolates users' code is registered as if it did, so developers may create.
  const direct = new pg.Client(db.direct);
  await direct.connect();
  await registerEngine(direct, 'uid');
  await direct.end();
});

afterAll(async () => {
  await admin.end();
  await proxy.close();
  await db.drop();
  const cleanup = new pg.Client({ ...db.direct, database: 'postgres' });
  await cleanup.connect();
  await cleanup.query(`DROP ROLE IF EXISTS ${alice}; DROP ROLE IF EXISTS ${bob}`);
  await cleanup.end();
});

async function as(role: string): Promise<pg.Client> {
  const client = new pg.Client({ ...proxy.config(db.name), user: role, password });
  await client.connect();
  return client;
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  return promise.then(
    () => undefined,
    (error: { code?: string }) => error.code,
  );
}

describe('privileges through procgate, with two ordinary roles', () => {
  it('needs procgate_developer to create command procedures, EXECUTE to run, and shows each role its own runs', async () => {
    const a = await as(alice);
    const b = await as(bob);
    try {
      expect(await codeOf(a.query("CREATE PROCEDURE a_job LANGUAGE command COMMAND 'true'"))).toBe('42501');
      await admin.query(`GRANT procgate_developer TO ${alice}`);
      await a.query("CREATE PROCEDURE a_job LANGUAGE command COMMAND 'true'");
      await a.query('EXECUTE PROCEDURE a_job()');

      // Bob may not run Alice's procedure until she grants it.
      expect(await codeOf(b.query('EXECUTE PROCEDURE a_job()'))).toBe('42501');
      await a.query(`GRANT EXECUTE ON PROCEDURE a_job TO ${bob}`);
      await b.query('EXECUTE PROCEDURE a_job()');
      await b.query('EXECUTE PROCEDURE a_job()');

      const seenByAlice = await a.query('SELECT submitted_by FROM procgate.runs');
      expect(seenByAlice.rows.map((r) => r.submitted_by)).toEqual([alice]);
      const seenByBob = await b.query('SELECT submitted_by FROM procgate.runs');
      expect(seenByBob.rows.map((r) => r.submitted_by)).toEqual([bob, bob]);
      expect((await admin.query('SELECT count(*)::int AS n FROM procgate.runs')).rows[0].n).toBe(3);

      // Bob can neither kill Alice's runs nor drop her procedure, nor write the tables.
      const aliceRun = (await a.query('SELECT run_id FROM procgate.runs')).rows[0].run_id;
      expect(await codeOf(b.query(`KILL RUN '${aliceRun}'`))).not.toBeUndefined();
      expect(await codeOf(b.query('DROP PROCEDURE a_job'))).toBe('42501');
      expect(await codeOf(b.query("UPDATE procgate.runs SET state = 'succeeded'"))).toBe('42501');
      expect(await codeOf(b.query('DELETE FROM procgate_internal.runs'))).toBe('42501');

      await a.query(`REVOKE EXECUTE ON PROCEDURE a_job FROM ${bob}`);
      expect(await codeOf(b.query('EXECUTE PROCEDURE a_job()'))).toBe('42501');
    } finally {
      await a.end();
      await b.end();
    }
  });
});
