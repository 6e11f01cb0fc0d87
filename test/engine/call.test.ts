import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useEngine } from '../support/engine-fixture.js';
import { eventually, useProxiedDatabase } from '../support/test-database.js';

const t = useProxiedDatabase('engine_call', { statements: true });
const fixture = useEngine<{ state: string }>(t);

async function errorOf(promise: Promise<unknown>): Promise<{ code?: string; message: string; detail?: string }> {
  return promise.then(
    () => {
      throw new Error('expected an error');
    },
    (error: { code?: string; message: string; detail?: string }) => error,
  );
}

describe('CALL of a procgate procedure', () => {
  it('waits for the run, tells its progress as NOTICEs and returns the finished run', async () => {
    const { client } = fixture;
    await client.query(
      "CREATE PROCEDURE slow_echo(n int) LANGUAGE command COMMAND 'sh' ARGS ('-c', 'sleep 0.4; echo done')",
    );
    const notices: string[] = [];
    const onNotice = (notice: { message?: string }): void => {
      notices.push(notice.message ?? '');
    };
    client.on('notice', onNotice);
    const started = Date.now();
    const result = await client.query('CALL slow_echo($1)', [7]);
    client.off('notice', onNotice);
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(result.rows).toHaveLength(1);
    expect(result.rows[0]).toMatchObject({ procedure: 'slow_echo', state: 'succeeded', error: null });
    expect(notices.some((message) => message.includes(': running'))).toBe(true);
    expect(notices.at(-1)).toContain(': succeeded (100 %)');
    const params = await client.query('SELECT params FROM procgate.runs WHERE run_id = $1', [result.rows[0].run_id]);
    expect(params.rows[0].params).toEqual({ n: { value: 7, type: 'integer' } });
  });

  it("raises the run's error as 38000 when the run fails", async () => {
    const { client } = fixture;
    await client.query("CREATE PROCEDURE failing LANGUAGE command COMMAND 'sh' ARGS ('-c', 'echo broken >&2; exit 3')");
    const error = await errorOf(client.query('CALL failing()'));
    expect(error.code).toBe('38000');
    expect(error.message).toMatch(/run .* of procedure "failing" failed: broken/);
  });

  it('tells the progress a failed run reached, not 100 %', async () => {
    const { client } = fixture;
    await client.query(
      `CREATE PROCEDURE half_done LANGUAGE command COMMAND 'sh' ARGS ('-c', 'echo ''{"progress": 0.4}'' >&3; exit 3')`,
    );
    const notices: string[] = [];
    const onNotice = (notice: { message?: string }): void => {
      notices.push(notice.message ?? '');
    };
    client.on('notice', onNotice);
    const error = await errorOf(client.query('CALL half_done()'));
    client.off('notice', onNotice);
    expect(error.code).toBe('38000');
    expect(notices.at(-1)).toContain(': failed (40 %)');
  });

  it('hides its internal CONTEXT in the extended protocol too, as pgjdbc prepares and re-executes it', async () => {
    const { client } = fixture;
    await client.query("CREATE PROCEDURE failing_again(n int) LANGUAGE command COMMAND 'sh' ARGS ('-c', 'exit 3')");
    // A named statement: the first Execute follows its Parse, the second reuses it.
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const error = await errorOf(client.query({ name: 'call_failing', text: 'CALL failing_again($1)', values: [attempt] }));
      expect(error.code).toBe('38000');
      expect(error).not.toHaveProperty('where', expect.anything());
    }
    // In a transaction block, the re-executed named CALL gets our 25001, not PostgreSQL's 2D000 about COMMIT.
    await client.query('BEGIN');
    const inTransaction = await errorOf(client.query({ name: 'call_failing', text: 'CALL failing_again($1)', values: [3] }));
    await client.query('ROLLBACK');
    expect(inTransaction.code).toBe('25001');
  });

  it('kills the run when the CALL is cancelled', async () => {
    const { client } = fixture;
    await client.query("CREATE PROCEDURE forever LANGUAGE command COMMAND 'sleep' ARGS ('30')");
    // The CALL's own session is busy: watch from another one.
    const watcher = new pg.Client(t.db.direct);
    await watcher.connect();
    const stateOfForever = async (): Promise<string | undefined> =>
      (await watcher.query("SELECT state FROM procgate.runs WHERE procedure = 'forever'")).rows[0]?.state;
    try {
      const calling = errorOf(client.query('CALL forever()'));
      expect(await eventually(stateOfForever, (state) => state === 'running')).toBe('running');
      // As psql's Ctrl-C does: a CancelRequest on a new connection with the session's key.
      const canceller = new pg.Client(t.proxy.config(t.db.name)) as unknown as {
        cancel(client: pg.Client, query: unknown): void;
      };
      canceller.cancel(client, (client as unknown as { activeQuery: unknown }).activeQuery);
      const error = await calling;
      expect(error.code).toBe('57014');
      expect(error.detail).toMatch(/^Run .* was killed\.$/);
      expect(await eventually(stateOfForever, (state) => state === 'killed', 3000)).toBe('killed');
    } finally {
      await watcher.end();
    }
  });

  it('still kills the run when a second interrupt lands in the kill itself (one CancelRequest can signal twice)', async () => {
    const { client } = fixture;
    await client.query("CREATE PROCEDURE twice_cancelled LANGUAGE command COMMAND 'sleep' ARGS ('30')");
    const admin = new pg.Client(t.db.direct);
    await admin.connect();
    const runOf = async (): Promise<{ run_id: string; state: string } | undefined> =>
      (await admin.query("SELECT run_id, state FROM procgate.runs WHERE procedure = 'twice_cancelled'")).rows[0];
    const backendOf = async (): Promise<{ pid: number; wait_event_type: string | null } | undefined> =>
      (
        await admin.query(
          "SELECT pid, wait_event_type FROM pg_stat_activity WHERE query LIKE 'CALL procgate.call_and_wait%' AND pid <> pg_backend_pid()",
        )
      ).rows[0];
    try {
      const calling = errorOf(client.query('CALL twice_cancelled()'));
      const run = await eventually(runOf, (row) => row?.state === 'running');
      const backend = (await backendOf())!;
      // Hold the run's row, so that the kill the first interrupt starts waits for it.
      await admin.query('BEGIN');
      await admin.query('SELECT 1 FROM procgate_internal.runs WHERE run_id = $1 FOR UPDATE', [run!.run_id]);
      const other = new pg.Client(t.db.direct);
      await other.connect();
      try {
        await other.query('SELECT pg_cancel_backend($1)', [backend.pid]);
        await eventually(
          async () => (await other.query('SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1', [backend.pid])).rows[0],
          (row) => row?.wait_event_type === 'Lock',
        );
        // The second interrupt lands inside procgate.kill_run.
        await other.query('SELECT pg_cancel_backend($1)', [backend.pid]);
        await new Promise((resolve) => setTimeout(resolve, 100));
      } finally {
        await other.end();
      }
      await admin.query('ROLLBACK');
      const error = await calling;
      expect(error.code).toBe('57014');
      expect(error).not.toHaveProperty('where', expect.anything());
      expect((await eventually(runOf, (row) => row?.state === 'killed', 5000))?.state).toBe('killed');
    } finally {
      await admin.end();
    }
  });
});
