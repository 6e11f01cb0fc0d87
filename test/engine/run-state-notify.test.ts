import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useEngine } from '../support/engine-fixture.js';
import { eventually, useProxiedDatabase } from '../support/test-database.js';

const t = useProxiedDatabase('engine_run_state_notify', { statements: true });
const fixture = useEngine<{ state: string }>(t);

describe('run-state notifications', () => {
  it('tells LISTENers of procgate_run_state each state a run goes through, as JSON without its procedure', async () => {
    await fixture.client.query("CREATE PROCEDURE notify_me(n int) LANGUAGE command COMMAND 'sh' ARGS ('-c', 'sleep 0.2')");
    // Any session may LISTEN, a plain client of the database included.
    const listener = new pg.Client(t.proxy.config(t.db.name));
    await listener.connect();
    const payloads: string[] = [];
    listener.on('notification', (message) => {
      if (message.channel === 'procgate_run_state') payloads.push(message.payload ?? '');
    });
    try {
      await listener.query('LISTEN procgate_run_state');
      const { rows } = await fixture.client.query<{ run_id: string }>('EXECUTE PROCEDURE notify_me(n => 1)');
      const runId = rows[0]!.run_id;
      const states = (): string[] =>
        payloads
          .map((payload) => JSON.parse(payload) as { run_id: string; state: string })
          .filter((change) => change.run_id === runId)
          .map((change) => change.state);
      await eventually(async () => states(), (seen) => seen.includes('succeeded'));
      expect(states()).toEqual(['queued', 'running', 'succeeded']);
      expect(JSON.parse(payloads[0]!)).toEqual({ run_id: runId, state: 'queued' });
    } finally {
      await listener.end();
    }
  });

  it('tells of a killed run', async () => {
    await fixture.client.query("CREATE PROCEDURE notify_forever LANGUAGE command COMMAND 'sleep' ARGS ('30')");
    const listener = new pg.Client(t.proxy.config(t.db.name));
    await listener.connect();
    const states: string[] = [];
    listener.on('notification', (message) => {
      states.push((JSON.parse(message.payload ?? '{}') as { state: string }).state);
    });
    try {
      await listener.query('LISTEN procgate_run_state');
      const { rows } = await fixture.client.query<{ run_id: string }>('EXECUTE PROCEDURE notify_forever()');
      await eventually(async () => states, (seen) => seen.includes('running'));
      await fixture.client.query(`KILL RUN '${rows[0]!.run_id}'`);
      await eventually(async () => states, (seen) => seen.includes('killed'));
      expect(states).toEqual(['queued', 'running', 'cancelling', 'killed']);
    } finally {
      await listener.end();
    }
  });
});
