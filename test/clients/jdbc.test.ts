import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { procgate } from './support/client-session.js';

const execFileAsync = promisify(execFile);

/** pgjdbc from Debian's libpostgresql-jdbc-java (42.5.5). */
const PGJDBC_JAR = '/usr/share/java/postgresql.jar';
/** The session, launched as a single source file (JDK 17): compiled and run in one JVM start. */
const PROGRAM = fileURLToPath(new URL('java/JdbcSession.java', import.meta.url));

/** java.sql.Types values pgjdbc reports. */
const Types = {
  ARRAY: 2003,
  BIGINT: -5,
  INTEGER: 4,
  NUMERIC: 2,
  OTHER: 1111,
  TIMESTAMP: 93,
  VARCHAR: 12,
} as const;
/** DatabaseMetaData.procedureReturnsResult. */
const PROCEDURE_RETURNS_RESULT = 2;

/** An SQLException as JdbcSession.java reports it. */
interface JdbcError {
  sqlState: string;
  /** getMessage(): pgjdbc appends Detail, Hint, Position and Where to the server's message. */
  message: string;
  serverMessage: string;
  where: string | null;
  position: number;
}

/** A row as JdbcSession.java reports it: `<column>$class` is the Java class of getObject() when not a plain value. */
type Row = Record<string, string | number | boolean | null>;

interface PlainSession {
  tsClass: string;
  tsInstant: string;
  tsOffsetDateTime: string;
  numClass: string;
  num: string;
  old: boolean;
  types: string[];
  batchCounts: number[];
  batchRows: number;
  batchSum: string;
  batchNames: string;
  missingTable: JdbcError | null;
}

/** What test/clients/java/JdbcSession.java observed, as it prints it. */
interface JdbcSession {
  metadata: {
    driverVersion: string;
    databaseProductName: string;
    views: { schema: string; name: string; type: string }[];
    runsColumns: Record<string, { typeName: string; dataType: number; position: number }>;
    procedures: { schema: string; name: string; type: number }[];
    functions: string[];
    userProceduresInMetadata: string[];
    proceduresView: { name: string; language: string }[];
  };
  prepared: {
    submitted: (Row & { rows: number; serverPrepared: boolean })[];
    preparedStatements: { name: string; statement: string }[];
    ended: Row[];
    into: [number, number][];
  };
  callEscape: {
    executeReturned: boolean;
    columns: string[];
    run: Row & { rows: number };
    updateCount: number;
    warnings: string[];
    selectModeError: JdbcError | null;
  };
  cancel: {
    sawRunning: boolean;
    callSeconds: number;
    error: JdbcError | null;
    outcome?: string;
    statesAfterCancel: string[];
    ended: Row;
    afterwards: number;
  };
  errors: {
    failingCall: JdbcError | null;
    afterFailingCall: string;
    callInTransaction: { error: JdbcError | null; serverPrepared: boolean; markerTablesAfterRollback: number }[];
    runsFromTransaction: number;
  };
  plain: PlainSession;
  plainDirect: PlainSession;
}

/** Runs JdbcSession.java once against procgate (and PostgreSQL itself for the plain part). */
async function runJdbcSession(): Promise<JdbcSession> {
  const server = procgate();
  const jdbcUrl = (port: number): string => `jdbc:postgresql://${server.host}:${port}/${server.database}`;
  // The optional fourth argument: PostgreSQL itself, for the plain part's comparison.
  const args = ['-cp', PGJDBC_JAR, PROGRAM, jdbcUrl(server.port), server.user, server.password];
  args.push(jdbcUrl(server.directPort));
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync('java', args, { timeout: 50_000, maxBuffer: 16 * 1024 * 1024 }));
  } catch (caught) {
    const failed = caught as Error & { stdout?: string; stderr?: string };
    throw new Error(`JdbcSession.java failed: ${failed.message}\nstdout: ${failed.stdout}\nstderr: ${failed.stderr}`);
  }
  return JSON.parse(stdout) as JdbcSession;
}

describe('pgjdbc (JDBC: Metabase, DBeaver, BI tools) through procgate serve', () => {
  let session: JdbcSession;
  beforeAll(async () => {
    session = await runJdbcSession();
  }, 60_000);

  it('DatabaseMetaData lists the procgate views, the JDBC types of procgate.runs and the SQL API', () => {
    const { metadata } = session;
    expect(metadata.driverVersion).toBe('42.5.5');
    expect(metadata.databaseProductName).toBe('PostgreSQL');
    const views = metadata.views.map((view) => view.name);
    expect(views).toEqual(expect.arrayContaining(['runs', 'run_segments', 'run_output', 'procedures']));
    for (const view of metadata.views) expect(view).toMatchObject({ schema: 'procgate', type: 'VIEW' });

    expect(metadata.runsColumns).toMatchObject({
      run_id: { typeName: 'uuid', dataType: Types.OTHER, position: 1 },
      procedure: { typeName: 'text', dataType: Types.VARCHAR },
      state: { typeName: 'text', dataType: Types.VARCHAR },
      params: { typeName: 'jsonb', dataType: Types.OTHER },
      output_tables: { typeName: '_text', dataType: Types.ARRAY },
      created_at: { typeName: 'timestamptz', dataType: Types.TIMESTAMP },
      finished_at: { typeName: 'timestamptz', dataType: Types.TIMESTAMP },
      progress: { typeName: 'numeric', dataType: Types.NUMERIC },
      segments_total: { typeName: 'int4', dataType: Types.INTEGER },
      rows_out: { typeName: 'int8', dataType: Types.BIGINT },
      results: { typeName: 'jsonb', dataType: Types.OTHER },
    });

    // pgjdbc 42.5 lists PostgreSQL procedures (prokind 'p') in getProcedures: procgate's only one is
    // call_and_wait, which CALL is rewritten to; the other API entry points are functions.
    expect(metadata.procedures).toEqual([
      { schema: 'procgate', name: 'call_and_wait', type: PROCEDURE_RETURNS_RESULT },
    ]);
    expect(metadata.functions).toEqual(
      expect.arrayContaining(['execute', 'kill_run', 'kill_runs', 'show_procedure_status', 'drop_procedure']),
    );
    expect(metadata.functions).not.toContain('call_and_wait');
    // Procedures created through procgate are no PostgreSQL routines: procgate.procedures lists them.
    expect(metadata.userProceduresInMetadata).toEqual([]);
    expect(metadata.proceduresView).toEqual([
      { name: 'jdbc_fail', language: 'javascript' },
      { name: 'jdbc_hello', language: 'javascript' },
      { name: 'jdbc_sleepy', language: 'command' },
      { name: 'jdbc_square', language: 'javascript' },
    ]);
  });

  it('executes a server-prepared EXECUTE PROCEDURE (prepareThreshold=1) again and again, then reads INTO', () => {
    const { prepared } = session;
    expect(prepared.submitted).toHaveLength(3);
    for (const run of prepared.submitted) {
      expect(run).toMatchObject({
        'run_id$class': 'java.util.UUID',
        procedure: 'jdbc_square',
        state: 'queued',
        run_tag: 'jdbc-prepared',
        'created_at$class': 'java.sql.Timestamp',
        rows: 1,
        serverPrepared: true,
      });
    }
    expect(new Set(prepared.submitted.map((run) => run.run_id)).size).toBe(3);
    // One named statement on the server, prepared from procgate's rewrite of the text, bound three times.
    expect(prepared.preparedStatements).toHaveLength(1);
    expect(prepared.preparedStatements[0]!.name).toMatch(/^S_\d+$/);
    expect(prepared.preparedStatements[0]!.statement).toContain("procgate.arg('n', NULL, ($1)::integer)");
    // Polled in procgate.runs with a PreparedStatement and a java.util.UUID parameter.
    expect(prepared.ended.map((run) => [run.run_id, run.state, run.rows_out])).toEqual(
      prepared.submitted.map((run) => [run.run_id, 'succeeded', 1]),
    );
    expect(prepared.into).toEqual([
      [2, 4],
      [3, 9],
      [4, 16],
    ]);
  });

  it('runs {call jdbc_hello(?)} with escapeSyntaxCallMode=callIfNoReturn and gets the finished run', () => {
    const { callEscape } = session;
    expect(callEscape.executeReturned).toBe(true);
    expect(callEscape.columns).toEqual([
      'run_id',
      'procedure',
      'state',
      'run_tag',
      'progress',
      'error',
      'results',
      'created_at',
      'finished_at',
    ]);
    expect(callEscape.run).toMatchObject({
      'run_id$class': 'java.util.UUID',
      procedure: 'jdbc_hello',
      state: 'succeeded',
      progress: '1',
      error: null,
      'results$class': 'org.postgresql.util.PGobject',
      rows: 1,
    });
    expect(JSON.parse(String(callEscape.run.results))).toEqual({ 0: { n: 7 } });
    // CALL's progress NOTICEs arrive as the statement's SQLWarnings.
    expect(callEscape.warnings.at(-1)).toBe(
      `run ${callEscape.run.run_id} of procedure "jdbc_hello": succeeded (100 %)`,
    );
    // pgjdbc's default escapeSyntaxCallMode=select turns it into `select * from jdbc_hello(?)`, as for any
    // PostgreSQL procedure: PostgreSQL finds no such function.
    expect(callEscape.selectModeError).toMatchObject({
      sqlState: '42883',
      serverMessage: 'function jdbc_hello(integer) does not exist',
    });
  });

  it('Statement.cancel() of a CALL from another thread kills the run: 57014, then killed', () => {
    const { cancel } = session;
    expect(cancel.sawRunning).toBe(true);
    expect(cancel.outcome).toBeUndefined();
    const runId = String(cancel.ended.run_id);
    expect(cancel.error).toMatchObject({
      sqlState: '57014',
      serverMessage: 'canceling statement due to user request',
      where: null,
    });
    expect(cancel.error?.message).toContain(`Detail: Run ${runId} was killed.`);
    expect(cancel.error?.message).not.toContain('call_and_wait');
    // Well before the 30 s of sleep.
    expect(cancel.callSeconds).toBeLessThan(15);
    expect(['cancelling', 'killed']).toContain(cancel.statesAfterCancel[0]);
    expect(cancel.statesAfterCancel.at(-1)).toBe('killed');
    expect(cancel.ended.state).toBe('killed');
    expect(cancel.afterwards).toBe(42);
  });

  it('a failing CALL is 38000; a CALL in a transaction 25001, also re-executed server-prepared; rollback', () => {
    const { errors } = session;
    expect(errors.failingCall).toMatchObject({ sqlState: '38000', where: null });
    expect(errors.failingCall?.serverMessage).toMatch(/^run [0-9a-f-]{36} of procedure "jdbc_fail" failed: jdbc boom$/);
    expect(errors.failingCall?.message).not.toContain('call_and_wait');
    expect(errors.afterFailingCall).toBe('still here');

    expect(errors.callInTransaction).toHaveLength(2);
    for (const attempt of errors.callInTransaction) {
      expect(attempt.error).toMatchObject({
        sqlState: '25001',
        serverMessage: 'CALL of a procgate procedure cannot run inside a transaction block',
        where: null,
      });
      expect(attempt.error?.message).not.toContain('call_and_wait');
      expect(attempt.serverPrepared).toBe(true);
      // The temporary table created earlier in the transaction is gone after the rollback.
      expect(attempt.markerTablesAfterRollback).toBe(0);
    }
    expect(errors.runsFromTransaction).toBe(0);
  });

  it('plain PostgreSQL: timestamptz and numeric by getObject, a rewritten batch insert, as without procgate', () => {
    const { plain, plainDirect } = session;
    expect(plain).toMatchObject({
      tsClass: 'java.sql.Timestamp',
      tsInstant: '2024-05-06T07:08:09.123456Z',
      tsOffsetDateTime: '2024-05-06T07:08:09.123456Z',
      numClass: 'java.math.BigDecimal',
      num: '12345.6789',
      old: true,
      types: ['timestamptz', 'numeric', 'bool'],
      // reWriteBatchedInserts=true: one INSERT of 4 rows (SUCCESS_NO_INFO each) and one of the last row.
      batchCounts: [-2, -2, -2, -2, 1],
      batchRows: 5,
      batchSum: '16.25',
      batchNames: 'row 1,row 2,row 3,row 4,row 5',
      missingTable: { sqlState: '42P01', position: 15 },
    });
    expect(plain).toEqual(plainDirect);
  });
});
