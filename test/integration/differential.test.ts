import net from 'node:net';
import pg from 'pg';
import type { BackendMessage } from 'pg-protocol/dist/messages.js';
import { Parser } from 'pg-protocol/dist/parser.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { useProxiedDatabase } from '../support/test-database.js';

const t = useProxiedDatabase('differential');

beforeAll(async () => {
  // Both sessions read the same table, so the table OIDs in RowDescription agree.
  const setup = new pg.Client(t.db.direct);
  await setup.connect();
  await setup.query(
    "CREATE TABLE t (id int PRIMARY KEY, body text, at timestamptz DEFAULT '2020-01-01', n numeric); INSERT INTO t (id, body, n) SELECT g, repeat('ab', g), g / 7.0 FROM generate_series(1, 500) g",
  );
  await setup.end();
});

/** Messages whose content is random per session (SCRAM nonces, cancel keys): only their kind is compared. */
const KIND_ONLY = new Set(['authenticationSASLContinue', 'authenticationSASLFinal', 'backendKeyData']);

/** One scripted session with pg, recording every byte the server sends. */
async function recordSession(config: pg.ClientConfig): Promise<unknown[]> {
  const received: Buffer[] = [];
  const socket = new net.Socket();
  // Copied: pg-protocol's parser reuses the chunks it is given as its own buffer.
  socket.on('data', (chunk: Buffer) => received.push(Buffer.from(chunk)));
  const client = new pg.Client({ ...config, stream: () => socket });
  client.on('notice', () => undefined);
  await client.connect();

  await client.query("SET application_name = 'differential'");
  await client.query(
    'CREATE TEMP TABLE scratch (v int); INSERT INTO scratch VALUES (1), (2); DROP TABLE scratch',
  );
  await client.query('SELECT * FROM t ORDER BY id');
  await client.query('SELECT id, body FROM t WHERE id > $1 AND body LIKE $2 ORDER BY id', [490, 'ab%']);
  await client.query({ name: 'by_id', text: 'SELECT n FROM t WHERE id = $1', values: [7] });
  await client.query({ name: 'by_id', text: 'SELECT n FROM t WHERE id = $1', values: [8] });
  await client.query('SELEC 1').catch(() => undefined);
  await client.query('SELECT * FROM t WHERE id = $1', ['not a number']).catch(() => undefined);
  await client.query("DO $$ BEGIN RAISE NOTICE 'hello %', 'there'; RAISE WARNING 'careful'; END $$");
  await client.query('BEGIN');
  await client.query('INSERT INTO t (id) VALUES (1)').catch(() => undefined);
  await client.query('SELECT 1').catch(() => undefined);
  await client.query('ROLLBACK');
  await client.query("SELECT $1::text || ';' || $$;'$$ AS s, E'\\\\' AS b", ['x']);
  await client.query('SET standard_conforming_strings = off');
  await client.query("SELECT 'a\\'b' AS s");
  await client.query('RESET standard_conforming_strings');
  // pg itself ignores CopyData, which is all this needs: the bytes are recorded at the socket.
  await client.query('COPY (SELECT * FROM t ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)');
  await client.end();

  const messages: unknown[] = [];
  new Parser().parse(Buffer.concat(received), (message: BackendMessage) => {
    messages.push(KIND_ONLY.has(message.name) ? message.name : { ...message });
  });
  return messages;
}

describe('differential: the same session direct and through procgate', () => {
  it('receives the same sequence of backend messages', async () => {
    const direct = await recordSession(t.db.direct);
    const proxied = await recordSession(t.proxy.config(t.db.name));
    expect(direct.length).toBeGreaterThan(500);
    expect(proxied).toEqual(direct);
  });
});
