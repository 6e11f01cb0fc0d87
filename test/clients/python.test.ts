import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { createFilterProcedure, procgate, usePgClient } from './support/client-session.js';

/**
 * Python clients against procgate serve: psycopg2, psycopg 3, SQLAlchemy, pgcli and pyodbc. Each script in
 * python/ runs one realistic session with Debian's Python (which has the packages; a `python3` first on PATH
 * may not) and prints one JSON object of what it observed; the assertions are here.
 */
const PYTHON = '/usr/bin/python3';
const SCRIPTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'python');

/** Runs python/<script> with procgate's address in PROCGATE_* and returns the JSON object it printed. */
function runPython<T = Record<string, unknown>>(script: string, timeoutMs = 40_000): Promise<T> {
  const server = procgate();
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    LANG: 'C.UTF-8',
    // No __pycache__ next to the scripts.
    PYTHONDONTWRITEBYTECODE: '1',
    PROCGATE_URL: server.url,
    PROCGATE_HOST: server.host,
    PROCGATE_PORT: String(server.port),
    PROCGATE_USER: server.user,
    PROCGATE_PASSWORD: server.password,
    PROCGATE_DATABASE: server.database,
  };
  const options = { env, cwd: SCRIPTS, timeout: timeoutMs };
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [path.join(SCRIPTS, script)], options, (error, stdout, stderr) => {
      if (error !== null) {
        reject(new Error(`${script} failed (${error.code ?? error.signal ?? error.message}):\n${stderr}\n${stdout}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout) as T);
      } catch {
        reject(new Error(`${script} printed no JSON object:\n${stdout}\n${stderr}`));
      }
    });
  });
}

const client = usePgClient();

beforeAll(async () => {
  // What every script runs: a javascript procedure that keeps the rows of its input scoring at least min_score.
  await client.query('CREATE TABLE py_scores (name text, score int)');
  await client.query("INSERT INTO py_scores VALUES ('ada', 90), ('bob', 40), ('cy', 75), ('di', 10)");
  await client.query(createFilterProcedure('py_filter'));
});

interface Psycopg2Session {
  execute_columns: string[];
  execute_row: { procedure: string; state: string; run_tag: string };
  filter_state: string;
  kept: [string, number][];
  params: unknown;
  input_queries: { name: string; query: string; placeholders: unknown }[];
  lines_state: string;
  output: [number, string][];
  open_cursors: [string, boolean][];
  bad_argument: { pgcode: string; message: string } | string;
  in_failed_transaction: string;
  after_rollback: number;
  call_columns: string[];
  call_row: Record<string, unknown>;
  call_status: string;
  call_notices: string[];
  called: string[];
}

interface Psycopg3Session {
  execute_row: { procedure: string; state: string; run_tag: string };
  filter_state: string;
  kept: [string, number][];
  params: unknown;
  input_queries: { name: string; query: string; placeholders: unknown }[];
  pipeline: { one: unknown; executed: [string, string][]; procedures: unknown; last: unknown };
  pipeline_states: string[];
  piped_rows: [string][];
  notified_states: string[];
  output: [number, string][];
  open_cursors: [string][];
}

interface SqlAlchemySession {
  schemas: string[];
  views: string[];
  runs_columns: Record<string, { type: string; timezone: boolean | null; item_type: string | null }>;
  execute_row: { run_id: string; procedure: string; state: string; run_tag: string; created_at: string };
  state: string;
  kept_columns: Record<string, string>;
  kept: [string, number][];
}

interface PgcliSession {
  prompt: string;
  completions: string[];
  answer: number;
  exited: boolean;
}

interface OdbcSession {
  execute_columns: string[];
  execute_row: { procedure: string; state: string; tagged: boolean };
  states: string[];
  kept: number;
  runs_columns: string[];
  runs: { run_id: string; procedure: string; state: string }[];
  run_ids: string[];
  open_cursors: [string, string][];
  python_types: Record<string, string>;
  views: string[];
}

const VIEWS = ['procedures', 'run_output', 'run_segments', 'runs'];

describe('Python clients through procgate serve', () => {
  it('psycopg2: %s parameters, a named cursor over run_output, 22023 then rollback, CALL', async () => {
    const session = await runPython<Psycopg2Session>('psycopg2_session.py');
    expect(session.execute_columns).toEqual(['run_id', 'procedure', 'state', 'run_tag', 'created_at']);
    expect(session.execute_row).toEqual({ procedure: 'py_filter', state: 'queued', run_tag: 'py-psycopg2' });
    expect(session.filter_state).toBe('succeeded');
    expect(session.kept).toEqual([
      ['ada', 90],
      ['cy', 75],
    ]);
    // psycopg2 interpolates %s on the client: the values arrive as literals.
    expect(session.params).toEqual({ min_score: { type: 'integer', value: 50 } });
    expect(session.input_queries).toMatchObject([
      { name: 'scores', query: 'SELECT name, score FROM py_scores WHERE score > 20', placeholders: {} },
    ]);
    expect(session.lines_state).toBe('succeeded');
    expect(session.output).toEqual([1, 2, 3, 4, 5].map((i) => [i, `line ${i}`]));
    expect(session.open_cursors).toEqual([['py_psycopg2_output', false]]);
    expect(session.bad_argument).toMatchObject({ pgcode: '22023' });
    expect(session.bad_argument).toMatchObject({ message: expect.stringContaining('nope') });
    expect(session.in_failed_transaction).toBe('25P02');
    expect(session.after_rollback).toBe(2);
    expect(session.call_columns).toEqual([
      'run_id', 'procedure', 'state', 'run_tag', 'progress', 'error', 'results', 'created_at', 'finished_at',
    ]);
    expect(session.call_row).toMatchObject({ procedure: 'py_filter', state: 'succeeded', progress: '1', error: null });
    expect(session.call_status).toBe('CALL');
    // One NOTICE per change of state or progress while CALL waits (how many depends on the timing).
    const prefix = `NOTICE:  run ${String(session.call_row.run_id)} of procedure "py_filter": `;
    expect(session.call_notices.length).toBeGreaterThanOrEqual(2);
    expect(session.call_notices.filter((notice) => !notice.startsWith(prefix))).toEqual([]);
    expect(session.call_notices.at(-1)).toBe(`${prefix}succeeded (100 %)`);
    expect(session.called).toEqual(['ada', 'cy']);
  });

  it('psycopg 3: bound %s parameters, pipeline mode, a named cursor, LISTEN procgate_run_state', async () => {
    const session = await runPython<Psycopg3Session>('psycopg3_session.py');
    expect(session.execute_row).toEqual({ procedure: 'py_filter', state: 'queued', run_tag: 'py-psycopg3' });
    expect(session.filter_state).toBe('succeeded');
    expect(session.kept).toEqual([
      ['ada', 90],
      ['cy', 75],
    ]);
    // psycopg 3 binds on the server: $1 in the TABLE query keeps the type psycopg chose for 20 (int2).
    expect(session.params).toEqual({ min_score: { type: 'integer', value: 50 } });
    expect(session.input_queries).toEqual([
      {
        name: 'scores',
        query: 'SELECT name, score FROM py_scores WHERE score > $1',
        placeholders: { 1: { type: 'smallint', value: 20 } },
        partition_by: [],
      },
    ]);
    expect(session.pipeline).toEqual({
      one: [[1]],
      executed: [
        ['py_filter', 'queued'],
        ['py_filter', 'queued'],
      ],
      procedures: [[1]],
      last: [['done']],
    });
    expect(session.pipeline_states).toEqual(['succeeded', 'succeeded']);
    // min_score 60 keeps ada and cy, 80 keeps ada.
    expect(session.piped_rows).toEqual([['ada'], ['ada'], ['cy']]);
    expect(session.notified_states).toEqual(['queued', 'running', 'succeeded']);
    expect(session.output).toEqual([1, 2, 3, 4, 5, 6, 7].map((i) => [i, `line ${i}`]));
    expect(session.open_cursors).toEqual([['py_psycopg3_output']]);
  });

  it('SQLAlchemy 1.4: reflects the procgate views and column types, EXECUTE PROCEDURE via text()', async () => {
    const session = await runPython<SqlAlchemySession>('sqlalchemy_session.py');
    expect(session.schemas).toContain('procgate');
    expect(session.views).toEqual(expect.arrayContaining(VIEWS));
    const columns = session.runs_columns;
    expect(columns.run_id?.type).toBe('UUID');
    expect(columns.procedure?.type).toBe('TEXT');
    expect(columns.state?.type).toBe('TEXT');
    expect(columns.progress?.type).toBe('NUMERIC');
    expect(columns.created_at).toEqual({ type: 'TIMESTAMP', timezone: true, item_type: null });
    expect(columns.params?.type).toBe('JSONB');
    expect(columns.output_tables).toEqual({ type: 'ARRAY', timezone: null, item_type: 'TEXT' });
    expect(columns.duration?.type).toBe('INTERVAL');
    expect(columns.rows_out?.type).toBe('BIGINT');
    expect(session.execute_row).toMatchObject({ procedure: 'py_filter', state: 'queued', run_tag: 'py-sqlalchemy' });
    expect(session.execute_row.run_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(session.state).toBe('succeeded');
    expect(session.kept_columns).toEqual({ name: 'TEXT', score: 'INTEGER' });
    expect(session.kept).toEqual([
      ['ada', 90],
      ['cy', 75],
    ]);
  });

  it('pgcli: completes procgate.ru with the run views after its metadata refresh, and runs a query', async () => {
    const session = await runPython<PgcliSession>('pgcli_session.py');
    expect(session.prompt).toMatch(/procgate>$/);
    expect(session.completions).toEqual(expect.arrayContaining(['run_output', 'run_segments']));
    expect(session.answer).toBe(42);
    expect(session.exited).toBe(true);
  });

  it('pyodbc (psqlODBC): reads procgate.runs through its DECLARE/FETCH cursor, ? parameters, SQLTables', async () => {
    const session = await runPython<OdbcSession>('odbc_session.py');
    expect(session.execute_columns).toEqual(['run_id', 'procedure', 'state', 'run_tag', 'created_at']);
    expect(session.execute_row).toEqual({ procedure: 'py_filter', state: 'queued', tagged: true });
    expect(session.states).toEqual(Array(5).fill('succeeded'));
    expect(session.kept).toBe(4 + 3 + 3 + 2 + 1);
    expect(session.runs_columns).toEqual(['run_id', 'procedure', 'state', 'progress', 'created_at']);
    expect(session.runs.map((run) => run.run_id)).toEqual(session.run_ids);
    expect(session.runs.every((run) => run.procedure === 'py_filter' && run.state === 'succeeded')).toBe(true);
    // The driver's cursor for the SELECT, fetching 2 rows at a time, open while the rows are read.
    const runsCursor = session.open_cursors.find(([, statement]) => statement.includes('FROM procgate.runs'));
    expect(runsCursor?.[1]).toMatch(/declare "SQL_CUR\w+" cursor with hold for SELECT run_id/);
    expect(runsCursor?.[1]).toContain('fetch 2 in');
    expect(session.python_types).toEqual({ run_id: 'str', progress: 'Decimal', created_at: 'datetime' });
    expect(session.views).toEqual(expect.arrayContaining(VIEWS));
  });
});
