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
});
