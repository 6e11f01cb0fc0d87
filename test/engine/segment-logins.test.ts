import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseEndpoint } from '../../src/engine/segment-logins/database-endpoint.js';
import { SegmentLogins } from '../../src/engine/segment-logins/segment-logins.js';
import { silentLogger } from '../../src/log/logger.js';
import { useEngine } from '../support/engine-fixture.js';
import { adminConfig, eventually, sharedPostgres, useProxiedDatabase } from '../support/test-database.js';

/**
 * A segment's login into the database: its program connects with libpq's
 * variables alone and is the run's caller, with the caller's rights and no
 * more, and the credential is gone with the segment. Two callers: `dev`, a
 * developer who is no superuser, and the superuser.
 */

const t = useProxiedDatabase('segment_logins', { statements: true });
const fixture = useEngine<{ state: string; error: string | null; results: Record<string, unknown> | null }>(t);
const dev = `dev_${randomBytes(3).toString('hex')}`;
const devPassword = randomBytes(12).toString('hex');
let devClient: pg.Client;

/** What the check program found, in its results. */
interface Found {
  psql: string;
  current_user: string;
  session_user: string;
  superuser: string;
  secret: string | null;
  set_role: string | null;
  set_role_none: string | null;
  write: string | null;
  url_user: string;
  application_name: string;
  login: { user: string; password: string };
}

// Every check a program might try with its connection: each answer is a value or a SQLSTATE.
// The system's python3, with Debian's python3-psycopg (.ci/run installs it).
const CHECK = `LANGUAGE command COMMAND '/usr/bin/python3' ARGS ('check.py') EXECUTION MODE NONDISTRIBUTED
  FILES ('check.py' = $py$
import json, os, subprocess
import psycopg

status = os.fdopen(int(os.environ['PROCGATE_STATUS_FD']), 'w', buffering=1)
superuser = json.load(open(os.environ['PROCGATE_CONTROL_FILE']))['params']['superuser']['value']

def sqlstate(conn, *statements):
    try:
        with conn.transaction():
            for statement in statements:
                conn.execute(statement)
        return None
    except psycopg.Error as error:
        return error.sqlstate

found = {'login': {'user': os.environ['PGUSER'], 'password': os.environ['PGPASSWORD']}}
found['psql'] = subprocess.run(['psql', '-XAtc', 'SELECT current_user'], capture_output=True, text=True, check=True).stdout.strip()
with psycopg.connect(autocommit=True) as conn:
    row = conn.execute("SELECT current_user, session_user, current_setting('is_superuser'), current_setting('application_name')").fetchone()
    found['current_user'], found['session_user'], found['superuser'], found['application_name'] = row
    found['secret'] = sqlstate(conn, 'SELECT * FROM secret')
    found['set_role'] = sqlstate(conn, 'RESET ROLE', 'SET ROLE "%s"' % superuser)
    found['set_role_none'] = sqlstate(conn, 'SET ROLE NONE', 'SELECT * FROM notes')
    found['write'] = sqlstate(conn, "INSERT INTO notes VALUES (current_user)")
with psycopg.connect(os.environ['PROCGATE_DATABASE_URL']) as conn:
    found['url_user'] = conn.execute('SELECT current_user').fetchone()[0]
status.write(json.dumps({'result': found}) + '\\n')
$py$)`;

// Says who it is and waits: ended by a kill, its timeout, or failing after a while.
const HOLD = `LANGUAGE command COMMAND 'sh' ARGS ('-c', '
  echo "{\\"result\\": {\\"user\\": \\"$PGUSER\\", \\"password\\": \\"$PGPASSWORD\\"}}" >&3
  sleep "$1"; exit 3', 'hold', '30') EXECUTION MODE NONDISTRIBUTED`;

beforeAll(async () => {
  const admin = fixture.client;
  await admin.query(`CREATE ROLE ${dev} LOGIN PASSWORD '${devPassword}' IN ROLE procgate_developer`);
  await admin.query('CREATE TABLE secret (x int); CREATE TABLE notes (author text)');
  await admin.query(`GRANT SELECT, INSERT ON notes TO ${dev}`);
  await admin.query(`CREATE PROCEDURE check_login(superuser text) ${CHECK}`);
  await admin.query(`GRANT EXECUTE ON PROCEDURE check_login TO ${dev}`);
  devClient = new pg.Client({ ...t.proxy.config(t.db.name), user: dev, password: devPassword });
  await devClient.connect();
  await devClient.query(`CREATE PROCEDURE hold ${HOLD}`);
});

afterAll(async () => {
  await devClient.end();
  // Roles are the cluster's: the test's own goes, with what it holds in the test's database.
  const admin = new pg.Client(t.db.direct);
  await admin.connect();
  await admin.query(`DROP OWNED BY ${dev}; DROP ROLE ${dev}`);
  await admin.end();
});

/** Connects straight to PostgreSQL with a segment's credential. */
async function connectAs(login: { user: string; password: string }): Promise<pg.Client> {
  const client = new pg.Client({ ...t.db.direct, user: login.user, password: login.password });
  await client.connect();
  return client;
}

async function connectError(login: { user: string; password: string }): Promise<string | undefined> {
  return connectAs(login).then(
    async (client) => {
      await client.end();
      return undefined;
    },
    (error: { code?: string }) => error.code,
  );
}

/** The logins left of a run: its rows in segment_logins and roles named after it. */
async function loginsOf(runId: string): Promise<unknown[]> {
  const { rows } = await fixture.client.query(
    `SELECT role FROM procgate_internal.segment_logins WHERE run_id = $1
     UNION ALL SELECT rolname FROM pg_roles WHERE rolname LIKE 'procgate\\_' || replace($1::text, '-', '') || '\\_%'`,
    [runId],
  );
  return rows;
}

describe('a segment connects as the run caller', () => {
  it('only with its password: the embedded PostgreSQL takes SCRAM logins alone', async () => {
    const { rows } = await fixture.client.query('SELECT DISTINCT auth_method FROM pg_hba_file_rules');
    expect(rows).toEqual([{ auth_method: 'scram-sha-256' }]);
  });

  it.each([
    { who: 'a developer', superuser: false },
    { who: 'the superuser', superuser: true },
  ])('with $who\'s rights and no more, until the segment ends', async ({ superuser }) => {
    const caller = superuser ? sharedPostgres().user : dev;
    const client = superuser ? fixture.client : devClient;
    const { rows } = await client.query<{ run_id: string }>(
      `EXECUTE PROCEDURE check_login(superuser => '${sharedPostgres().user}')`,
    );
    const runId = rows[0]!.run_id;
    const run = await fixture.finished(runId, 20_000);
    expect(run.error).toBeNull();
    expect(run.state).toBe('succeeded');
    const found = (run.results as Record<string, Found>)['0']!;
    expect(found).toMatchObject({
      psql: caller,
      current_user: caller,
      url_user: caller,
      application_name: `procgate run ${runId} segment 0`,
      superuser: superuser ? 'on' : 'off',
      // Only the superuser reads a table no one was granted.
      secret: superuser ? null : '42501',
      // RESET ROLE goes back to the caller, who may become the superuser only if it is one.
      set_role: superuser ? null : '42501',
      // The login itself has no rights at all.
      set_role_none: '42501',
      write: null,
    });
    expect(found.session_user).toBe(found.login.user);
    expect(found.login.user).toMatch(new RegExp(`^procgate_${runId.replaceAll('-', '')}_0_1$`));
    const notes = await fixture.client.query('SELECT author FROM notes WHERE author = $1', [caller]);
    expect(notes.rowCount).toBe(1);

    // Gone with the segment: the credential is refused and no role is left.
    expect(await connectError(found.login)).toBe('28P01');
    expect(await loginsOf(runId)).toEqual([]);
  });
});

describe('a javascript module', () => {
  it('queries as the run caller through ctx.db, with the login gone after the segment', async () => {
    await devClient.query(`CREATE PROCEDURE js_login() LANGUAGE javascript EXECUTION MODE NONDISTRIBUTED
      FILES ('main.js' = $js$
        export default async (ctx) => {
          const who = await ctx.db.query("SELECT current_user AS who, session_user AS login");
          const secret = await ctx.db.query('SELECT * FROM secret').then(() => null, (error) => error.code);
          await ctx.db.query('INSERT INTO notes VALUES ($1)', ['from javascript']);
          const env = await ctx.db.environment();
          return { ...who.rows[0], secret, password: env.PGPASSWORD };
        };
      $js$)`);
    const { rows } = await devClient.query<{ run_id: string }>('EXECUTE PROCEDURE js_login()');
    const runId = rows[0]!.run_id;
    const run = await fixture.finished(runId, 20_000);
    expect(run.error).toBeNull();
    const found = (run.results as Record<string, { who: string; login: string; secret: string; password: string }>)['0']!;
    expect(found).toMatchObject({ who: dev, secret: '42501' });
    expect(found.login).toMatch(new RegExp(`^procgate_${runId.replaceAll('-', '')}_0_1$`));
    const notes = await fixture.client.query("SELECT author FROM notes WHERE author = 'from javascript'");
    expect(notes.rowCount).toBe(1);
    expect(await connectError({ user: found.login, password: found.password })).toBe('28P01');
    expect(await loginsOf(runId)).toEqual([]);
  });
});

describe('the credential dies with the segment', () => {
  it.each([
    { end: 'killed', options: '' },
    { end: 'failed', options: 'WITH (timeout = 1)' },
  ])('when it is $end, and sessions still open are ended', async ({ end, options }) => {
    const { rows } = await devClient.query<{ run_id: string }>(`EXECUTE PROCEDURE hold() ${options}`);
    const runId = rows[0]!.run_id;
    const { results } = await eventually(
      () => fixture.run(runId),
      (row) => row.results !== null,
      10_000,
    );
    const login = (results as Record<string, { user: string; password: string }>)['0']!;
    const held = await connectAs(login);
    const terminated = new Promise<string | undefined>((resolve) =>
      held.on('error', (error: Error & { code?: string }) => resolve(error.code)),
    );
    expect((await held.query('SELECT current_user AS who')).rows).toEqual([{ who: dev }]);
    if (end === 'killed') await devClient.query(`KILL RUN '${runId}'`);

    expect((await fixture.finished(runId, 10_000)).state).toBe(end);
    expect(await terminated).toBe('57P01');
    await held.end().catch(() => undefined);
    expect(await connectError(login)).toBe('28P01');
    expect(await loginsOf(runId)).toEqual([]);
  });
});

describe('logins of segments that end together', () => {
  it('are made with a one-round SCRAM verifier, and all go with their sessions', async () => {
    await devClient.query(`CREATE PROCEDURE hold_parts ${HOLD.replace(' EXECUTION MODE NONDISTRIBUTED', '')}`);
    const { rows } = await devClient.query<{ run_id: string }>('EXECUTE PROCEDURE hold_parts() WITH (segments = 3)');
    const runId = rows[0]!.run_id;
    const { results } = await eventually(
      () => fixture.run(runId),
      (row) => Object.keys(row.results ?? {}).length === 3,
      10_000,
    );
    const logins = Object.values(results as Record<string, { user: string; password: string }>);
    const verifiers = await fixture.client.query<{ verifier: string }>(
      'SELECT split_part(rolpassword, \':\', 1) AS verifier FROM pg_authid WHERE rolname = ANY ($1)',
      [logins.map((login) => login.user)],
    );
    expect(verifiers.rows).toEqual(logins.map(() => ({ verifier: 'SCRAM-SHA-256$1' })));
    const held = await Promise.all(logins.map((login) => connectAs(login)));
    const terminated = held.map(
      (client) => new Promise<string | undefined>((resolve) => client.on('error', (error: Error & { code?: string }) => resolve(error.code))),
    );
    await devClient.query(`KILL RUN '${runId}'`);

    expect((await fixture.finished(runId, 10_000)).state).toBe('killed');
    expect(await Promise.all(terminated)).toEqual(['57P01', '57P01', '57P01']);
    await Promise.all(held.map((client) => client.end().catch(() => undefined)));
    expect(await Promise.all(logins.map((login) => connectError(login)))).toEqual(['28P01', '28P01', '28P01']);
    expect(await loginsOf(runId)).toEqual([]);
  });
});

describe('a login that cannot be dropped', () => {
  it('can no longer log in, and goes at a later sweep', async () => {
    const { rows } = await devClient.query<{ run_id: string }>('EXECUTE PROCEDURE hold()');
    const runId = rows[0]!.run_id;
    const { results } = await eventually(() => fixture.run(runId), (row) => row.results !== null, 10_000);
    const login = (results as Record<string, { user: string; password: string }>)['0']!;
    // A privilege in another database: DROP OWNED here cannot take it away.
    const elsewhere = new pg.Client(adminConfig());
    await elsewhere.connect();
    try {
      await elsewhere.query(`GRANT USAGE ON SCHEMA public TO ${login.user}`);
      await devClient.query(`KILL RUN '${runId}'`);
      expect((await fixture.finished(runId, 10_000)).state).toBe('killed');
      expect(await connectError(login)).toBe('28P01');
      const kept = await fixture.client.query(
        `SELECT l.drop_error, r.rolcanlogin, r.rolpassword IS NULL AS no_password,
                pg_has_role(r.oid, $2, 'MEMBER') AS member
           FROM procgate_internal.segment_logins l JOIN pg_authid r ON r.rolname = l.role WHERE l.run_id = $1`,
        [runId, dev],
      );
      expect(kept.rows).toEqual([
        {
          drop_error: expect.stringMatching(/cannot be dropped because some objects depend on it: .*database postgres/),
          rolcanlogin: false,
          no_password: true,
          member: false,
        },
      ]);

      await elsewhere.query(`REVOKE USAGE ON SCHEMA public FROM ${login.user}`);
      const pool = new pg.Pool(t.db.direct);
      try {
        const logins = new SegmentLogins({
          pool,
          workerId: 'test',
          endpoint: databaseEndpoint(t.db.direct),
          logger: silentLogger(),
          retryMs: 0,
        });
        expect(await logins.sweep()).toBe(1);
      } finally {
        await pool.end();
      }
      expect(await loginsOf(runId)).toEqual([]);
    } finally {
      await elsewhere.query(`REVOKE USAGE ON SCHEMA public FROM ${login.user}`).catch(() => undefined);
      await elsewhere.end();
    }
  });
});
