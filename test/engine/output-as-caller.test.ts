import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useEngine } from '../support/engine-fixture.js';
import { eventually, useProxiedDatabase } from '../support/test-database.js';

/*
 * A segment's output goes straight into its INTO table through the
 * segment's own login, in one transaction with the segment's completion:
 * as the caller (triggers, privileges, row security), fenced by the
 * claim, and never completed by the program itself.
 */

const t = useProxiedDatabase('engine_output_as_caller', { statements: true });

interface RunRow {
  run_id: string;
  state: string;
  error: string | null;
  error_code: string | null;
  rows_out: string;
  results: Record<string, Record<string, string>> | null;
}

const fixture = useEngine<RunRow>(t, { leaseMs: 1000, heartbeatMs: 250, sweepMs: 200 });
const { execute, finished } = fixture;

const CALLER = 'output_caller';

const IDENTITY = `
import json, os, shutil
control = json.load(open(os.environ['PROCGATE_CONTROL_FILE']))
for source, target in zip(control['inputs'], control['outputs']):
    shutil.copyfile(source['path'], target['path'])
`;

async function query<Row extends object>(text: string, values: unknown[] = []): Promise<Row[]> {
  return (await fixture.client.query<Row>(text, values)).rows;
}

/** Runs `statement` as the caller and waits for its end. */
async function runAsCaller(statement: string): Promise<RunRow> {
  await fixture.client.query(`SET ROLE ${CALLER}`);
  let runId: string;
  try {
    runId = await execute(statement);
  } finally {
    await fixture.client.query('RESET ROLE');
  }
  const row = await finished(runId, 20_000);
  const [code] = await query<{ code: string | null }>('SELECT procgate.run_error_code($1) AS code', [runId]);
  return { ...row, error_code: code?.code ?? null };
}

describe('output loaded through the segment\'s login', () => {
  it('runs the INTO table\'s triggers as the caller, in a session of the segment\'s login', async () => {
    await fixture.client.query(`CREATE ROLE ${CALLER} NOLOGIN`);
    await fixture.client.query(
      `CREATE PROCEDURE copy_rows LANGUAGE command COMMAND 'python3' ARGS ('identity.py') FILES ('identity.py' = $1)`,
      [IDENTITY],
    );
    await fixture.client.query(`GRANT EXECUTE ON PROCEDURE copy_rows TO ${CALLER}`);
    await fixture.client.query('CREATE TABLE numbers AS SELECT g AS n FROM generate_series(1, 10) g');
    await fixture.client.query(`GRANT SELECT ON numbers TO ${CALLER}`);
    await fixture.client.query('CREATE TABLE audited (n int)');
    await fixture.client.query('CREATE TABLE audit_log (who text, session text)');
    await fixture.client.query(`
      CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO audit_log VALUES (current_user, session_user);
        RETURN NEW;
      END $$`);
    await fixture.client.query('CREATE TRIGGER audit BEFORE INSERT ON audited FOR EACH ROW EXECUTE FUNCTION audit()');
    await fixture.client.query(`GRANT INSERT ON audited, audit_log TO ${CALLER}`);
    const row = await runAsCaller('EXECUTE PROCEDURE copy_rows(numbers => TABLE (SELECT n FROM numbers)) INTO audited WITH (segments = 2)');
    expect(row).toMatchObject({ state: 'succeeded', rows_out: '10' });
    expect(await query('SELECT count(*)::int AS n FROM audited')).toEqual([{ n: 10 }]);
    expect(await query('SELECT count(*)::int AS n FROM audit_log')).toEqual([{ n: 10 }]);
    const sessions = await query<{ who: string; session: string }>('SELECT DISTINCT who, session FROM audit_log');
    // Each segment that had rows loaded them in a session of its own login.
    expect(sessions.length).toBeGreaterThan(0);
    for (const session of sessions) {
      expect(session.who).toBe(CALLER);
      expect(session.session).toMatch(/^procgate_[0-9a-f]{32}_[01]_1$/);
    }
    // By the time the run has ended no login of it can log in; the last segment's is dropped right after its commit.
    const logins = "SELECT count(*)::int AS n FROM pg_catalog.pg_roles WHERE rolname LIKE 'procgate\\_' || replace($1, '-', '') || '\\_%'";
    expect(await query(`${logins} AND rolcanlogin`, [row.run_id])).toEqual([{ n: 0 }]);
    const gone = await eventually(() => query<{ n: number }>(logins, [row.run_id]), (rows) => rows[0]?.n === 0, 10_000);
    expect(gone).toEqual([{ n: 0 }]);
  });

  it('takes LOGIN from the segment\'s login once the engine\'s session is made: no password set later opens a session', async () => {
    await fixture.client.query('CREATE TABLE login_seen (n int)');
    await fixture.client.query('CREATE TABLE login_state (can_login boolean)');
    await fixture.client.query(`
      CREATE FUNCTION note_login() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO login_state SELECT r.rolcanlogin FROM pg_roles r WHERE r.rolname = session_user;
        RETURN NEW;
      END $$`);
    await fixture.client.query('CREATE TRIGGER note_login BEFORE INSERT ON login_seen FOR EACH ROW EXECUTE FUNCTION note_login()');
    await fixture.client.query(`GRANT INSERT ON login_seen, login_state TO ${CALLER}`);
    const row = await runAsCaller('EXECUTE PROCEDURE copy_rows(numbers => TABLE (SELECT n FROM numbers)) INTO login_seen WITH (segments = 2)');
    expect(row).toMatchObject({ state: 'succeeded', rows_out: '10' });
    expect(await query('SELECT DISTINCT can_login FROM login_state')).toEqual([{ can_login: false }]);
  });

  it('fails the segment with 42501 when the caller may not insert into the INTO table', async () => {
    await fixture.client.query('CREATE TABLE locked (n int)');
    const row = await runAsCaller('EXECUTE PROCEDURE copy_rows(numbers => TABLE (SELECT n FROM numbers)) INTO locked');
    expect(row).toMatchObject({ state: 'failed', error_code: '42501' });
    expect(row.error).toMatch(/permission denied for table locked/);
    expect(await query('SELECT count(*)::int AS n FROM locked')).toEqual([{ n: 0 }]);
  });

  it('loads into a table under row security, and fails on a row the policy refuses with PostgreSQL\'s error', async () => {
    await fixture.client.query('CREATE TABLE guarded (n int)');
    await fixture.client.query('ALTER TABLE guarded ENABLE ROW LEVEL SECURITY');
    await fixture.client.query(`CREATE POLICY small ON guarded FOR INSERT TO ${CALLER} WITH CHECK (n <= 5)`);
    await fixture.client.query(`GRANT INSERT ON guarded TO ${CALLER}`);
    const ok = await runAsCaller('EXECUTE PROCEDURE copy_rows(numbers => TABLE (SELECT n FROM numbers WHERE n <= 5)) INTO guarded');
    expect(ok).toMatchObject({ state: 'succeeded', rows_out: '5' });
    const refused = await runAsCaller('EXECUTE PROCEDURE copy_rows(numbers => TABLE (SELECT n FROM numbers)) INTO guarded');
    expect(refused).toMatchObject({ state: 'failed', error_code: '42501' });
    expect(refused.error).toMatch(/new row violates row-level security policy for table "guarded"/);
    expect(await query('SELECT count(*)::int AS n FROM guarded')).toEqual([{ n: 5 }]);
  });

  it('writes no row when the lease runs out before the completion (a zombie)', async () => {
    await fixture.client.query('CREATE TABLE zombie_out (n int)');
    // Owned by the superuser: as the rows go in, the segment's lease runs out.
    await fixture.client.query(`
      CREATE FUNCTION expire_leases() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
      BEGIN
        UPDATE procgate_internal.run_segments SET lease_until = clock_timestamp() - interval '1 minute'
         WHERE state = 'running';
        RETURN NEW;
      END $$`);
    await fixture.client.query(
      'CREATE TRIGGER expire BEFORE INSERT ON zombie_out FOR EACH ROW EXECUTE FUNCTION expire_leases()',
    );
    await fixture.client.query(`GRANT INSERT ON zombie_out TO ${CALLER}`);
    // One segment: the trigger of one segment's rows would lock the others' rows and deadlock their completions.
    const row = await runAsCaller(
      'EXECUTE PROCEDURE copy_rows(numbers => TABLE (SELECT n FROM numbers)) INTO zombie_out WITH (segments = 1)',
    );
    expect(row.state).toBe('failed');
    expect(row.error).toBe('worker lost');
    expect(await query('SELECT count(*)::int AS n FROM zombie_out')).toEqual([{ n: 0 }]);
  });

  it('refuses the completion to the program, whose password no longer works once the run has ended', async () => {
    // Tries to complete its own segment with its login, then writes its output as usual.
    await fixture.client.query(`CREATE PROCEDURE self_complete LANGUAGE command COMMAND 'sh' ARGS ('-c', '
      echo "{\\"result\\": {\\"user\\": \\"$PGUSER\\", \\"password\\": \\"$PGPASSWORD\\"}}" >&3
      psql -X -v ON_ERROR_STOP=1 -c "SELECT procgate.complete_segment_output(''w'', ''$PROCGATE_RUN_ID'', 0, 1,
        ''succeeded'', 0, NULL, NULL, ''[]'', NULL, NULL, NULL, false, NULL)" 2>&1
      python3 -c "import json, os, shutil; c = json.load(open(os.environ[\\"PROCGATE_CONTROL_FILE\\"])); shutil.copyfile(c[\\"inputs\\"][0][\\"path\\"], c[\\"outputs\\"][0][\\"path\\"])"')`);
    await fixture.client.query(`GRANT EXECUTE ON PROCEDURE self_complete TO ${CALLER}`);
    await fixture.client.query('CREATE TABLE self_out (n int)');
    await fixture.client.query(`GRANT INSERT ON self_out TO ${CALLER}`);
    const row = await runAsCaller(
      'EXECUTE PROCEDURE self_complete(numbers => TABLE (SELECT n FROM numbers)) INTO self_out WITH (segments = 1)',
    );
    expect(row).toMatchObject({ state: 'succeeded', rows_out: '10' });
    const lines = await query<{ line: string }>(
      `SELECT line FROM procgate.run_output WHERE run_id = $1 AND stream = 'stdout'`,
      [row.run_id],
    );
    expect(lines.map((line) => line.line).join('\n')).toMatch(/only the engine completes segment 0 of run/);
    const login = row.results!['0']!;
    const refused = await new pg.Client({ ...t.db.direct, user: login['user'], password: login['password'] })
      .connect()
      .then(() => undefined, (error: { code?: string }) => error.code);
    expect(refused).toBe('28P01');
  });
});
