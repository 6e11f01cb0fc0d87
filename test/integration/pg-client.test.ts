import { once } from 'node:events';
import type net from 'node:net';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import Cursor from 'pg-cursor';
import { serialize } from 'pg-protocol';
import type { BackendMessage, DataRowMessage } from 'pg-protocol/dist/messages.js';
import { Parser } from 'pg-protocol/dist/parser.js';
import { describe, expect, it } from 'vitest';
import { countBackends, eventually, useProxiedDatabase } from '../support/test-database.js';

const t = useProxiedDatabase('pg_client');

async function connect(): Promise<pg.Client> {
  const client = new pg.Client(t.proxy.config(t.db.name));
  await client.connect();
  return client;
}

describe('pg through procgate', () => {
  it('runs simple-protocol queries, several statements in one', async () => {
    const client = await connect();
    const results = (await client.query(
      "CREATE TABLE simple_t (id int primary key, v text); INSERT INTO simple_t VALUES (1, $$a;b$$), (2, 'c'); SELECT v FROM simple_t ORDER BY id",
    )) as unknown as pg.QueryResult[];
    expect(results.map((r) => r.command)).toEqual(['CREATE', 'INSERT', 'SELECT']);
    expect(results[2]?.rows).toEqual([{ v: 'a;b' }, { v: 'c' }]);
    await client.end();
  });

  it('runs extended-protocol queries with parameters and named prepared statements', async () => {
    const client = await connect();
    const sum = await client.query('SELECT $1::int + $2::int AS sum', [2, 3]);
    expect(sum.rows).toEqual([{ sum: 5 }]);
    for (const n of [1, 2, 3]) {
      const result = await client.query({
        name: 'square',
        text: 'SELECT $1::int * $1::int AS sq',
        values: [n],
      });
      expect(result.rows[0].sq).toBe(n * n);
    }
    const prepared = await client.query(
      "SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name = 'square'",
    );
    expect(prepared.rows[0].n).toBe(1);
    await client.end();
  });

  it('answers pipelined extended-protocol queries sent in one write, in order', async () => {
    // pg authenticates; then its socket is taken over to send 50 queries before reading any reply.
    const client = await connect();
    client.on('error', () => undefined);
    const socket = (client as unknown as { connection: { stream: net.Socket } }).connection.stream;
    socket.removeAllListeners('data');
    const messages: BackendMessage[] = [];
    const parser = new Parser();
    socket.on('data', (chunk: Buffer) => parser.parse(chunk, (message) => messages.push(message)));
    const batch = Array.from({ length: 50 }, (_, i) => [
      serialize.parse({ text: 'SELECT $1::int AS i, repeat($2, $1::int) AS s', types: [] }),
      serialize.bind({ values: [String(i), 'x'] }),
      serialize.execute({}),
    ]).flat();
    socket.write(Buffer.concat([...batch, serialize.sync()]));
    await eventually(
      async () => messages.at(-1)?.name,
      (name) => name === 'readyForQuery',
    );
    const rows = messages.filter((m): m is DataRowMessage => m.name === 'dataRow').map((m) => m.fields);
    expect(rows).toEqual(Array.from({ length: 50 }, (_, i) => [String(i), 'x'.repeat(i)]));
    socket.end(serialize.end());
  });

  it('reports an error inside a transaction and rolls it back', async () => {
    const client = await connect();
    await client.query('CREATE TABLE tx_t (id int)');
    await client.query('BEGIN');
    await client.query('INSERT INTO tx_t VALUES (1)');
    const error = await client.query('SELECT 1/0').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: '22012' });
    const aborted = await client.query('SELECT 1').catch((e: unknown) => e);
    expect(aborted).toMatchObject({ code: '25P02' });
    await client.query('ROLLBACK');
    const count = await client.query('SELECT count(*)::int AS n FROM tx_t');
    expect(count.rows[0].n).toBe(0);
    await client.end();
  });

  it('copies rows in with COPY FROM STDIN and out with COPY TO STDOUT', async () => {
    const client = await connect();
    await client.query('CREATE TABLE copy_t (id int, body text)');
    const lines = Array.from({ length: 20_000 }, (_, i) => `${i}\tline ${i} ${'y'.repeat(i % 50)}\n`);
    await pipeline(Readable.from(lines), client.query(copyFrom('COPY copy_t FROM STDIN')));
    const count = await client.query('SELECT count(*)::int AS n, sum(id)::bigint AS s FROM copy_t');
    expect(count.rows[0]).toEqual({ n: 20_000, s: String((19_999 * 20_000) / 2) });

    const chunks: Buffer[] = [];
    await pipeline(
      client.query(copyTo('COPY (SELECT * FROM copy_t ORDER BY id) TO STDOUT')),
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          chunks.push(chunk);
          done();
        },
      }),
    );
    expect(Buffer.concat(chunks).toString()).toBe(lines.join(''));
    await client.end();
  });

  it('delivers NOTIFY from one client to a LISTENing other', async () => {
    const listener = await connect();
    const notifier = await connect();
    await listener.query('LISTEN procgate_channel');
    const received = once(listener, 'notification');
    await notifier.query("NOTIFY procgate_channel, 'hello'");
    const [message] = (await received) as [pg.Notification];
    expect(message).toMatchObject({ channel: 'procgate_channel', payload: 'hello' });
    await Promise.all([listener.end(), notifier.end()]);
  });

  it('reads a cursor in batches', async () => {
    const client = await connect();
    const cursor = client.query(new Cursor('SELECT g FROM generate_series(1, 250) AS g'));
    const seen: number[] = [];
    for (;;) {
      const rows = await cursor.read(100);
      if (rows.length === 0) break;
      seen.push(...rows.map((row: { g: number }) => row.g));
    }
    await cursor.close();
    expect(seen).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
    await client.end();
  });

  it('delivers NOTICE messages', async () => {
    const client = await connect();
    const notice = once(client, 'notice');
    await client.query("DO $$ BEGIN RAISE NOTICE 'careful: %', 42; END $$");
    const [message] = (await notice) as [{ message: string }];
    expect(message.message).toBe('careful: 42');
    await client.end();
  });

  it('cancels pg_sleep(10) within a second with 57014', async () => {
    const client = await connect();
    const started = Date.now();
    const sleeping = client.query('SELECT pg_sleep(10)').catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 200));
    // pg's cancel opens a new connection to procgate and sends CancelRequest with the session's key.
    const canceller = new pg.Client(t.proxy.config(t.db.name)) as unknown as {
      cancel(client: pg.Client, query: unknown): void;
    };
    canceller.cancel(client, (client as unknown as { activeQuery: unknown }).activeQuery);
    const error = await sleeping;
    expect(error).toMatchObject({ code: '57014' });
    expect(Date.now() - started).toBeLessThan(1200);
    const after = await client.query('SELECT 1 AS ok');
    expect(after.rows[0].ok).toBe(1);
    await client.end();
  });

  it('rejects a wrong password with 28P01 from PostgreSQL', async () => {
    const client = new pg.Client({ ...t.proxy.config(t.db.name), password: 'wrong' });
    const error = await client.connect().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: '28P01' });
  });

  it('leaves no backend connection behind when clients go', async () => {
    const before = await countBackends(t.db.name);
    const clients = await Promise.all(Array.from({ length: 5 }, () => connect()));
    expect(await countBackends(t.db.name)).toBe(before + 5);
    await Promise.all(clients.map((client) => client.end()));
    expect(
      await eventually(
        () => countBackends(t.db.name),
        (n) => n === before,
      ),
    ).toBe(before);
  });
});
