import { once } from 'node:events';
import type net from 'node:net';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { DatabaseError } from 'pg-protocol';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { countBackends, eventually, useProxiedDatabase } from '../support/test-database.js';
import { codePacket, rawConnect, startupPacket, withTimeout } from '../support/wire-client.js';

const t = useProxiedDatabase('bad_input', { maxMessageSize: 64 * 1024 * 1024 });

let baseline: number;

beforeAll(async () => {
  baseline = await countBackends(t.db.name);
});

// After every case the server still serves a client and holds no extra PostgreSQL connection.
afterEach(async () => {
  const client = new pg.Client(t.proxy.config(t.db.name));
  await client.connect();
  expect((await client.query('SELECT 42 AS answer')).rows[0].answer).toBe(42);
  await client.end();
  expect(
    await eventually(
      () => countBackends(t.db.name),
      (n) => n === baseline,
    ),
  ).toBe(baseline);
});

function fatalOf(messages: ReadonlyArray<{ name: string }>): DatabaseError | undefined {
  return messages.find((m) => m.name === 'error') as DatabaseError | undefined;
}

/** A connected pg client and its socket, to inject raw bytes into an authenticated session. */
async function sessionWithSocket(): Promise<{
  client: pg.Client;
  socket: net.Socket;
  failed: Promise<unknown>;
}> {
  const client = new pg.Client(t.proxy.config(t.db.name));
  await client.connect();
  const failed = new Promise((resolve) => {
    client.on('error', resolve);
    client.on('end', () => resolve(undefined));
  });
  const socket = (client as unknown as { connection: { stream: net.Socket } }).connection.stream;
  return { client, socket, failed };
}

describe('bad input', () => {
  it('answers garbage before startup with FATAL 08P01 and closes', async () => {
    const conn = await rawConnect(t.proxy.port);
    conn.socket.write('GET / HTTP/1.1\r\nHost: example\r\n\r\n');
    await withTimeout(conn.closed, 5000, 'close after garbage');
    expect(fatalOf(conn.messages)).toMatchObject({ severity: 'FATAL', code: '08P01' });
  });

  it('closes quietly on a truncated startup packet followed by close', async () => {
    const conn = await rawConnect(t.proxy.port);
    conn.socket.end(startupPacket(196608, { user: 'procgate', database: t.db.name }).subarray(0, 11));
    await withTimeout(conn.closed, 5000, 'close after truncated packet');
    expect(conn.messages).toEqual([]);
  });

  it('rejects protocol 4.0 with FATAL 08P01', async () => {
    const conn = await rawConnect(t.proxy.port);
    conn.socket.write(startupPacket(4 << 16, { user: 'procgate', database: t.db.name }));
    await withTimeout(conn.closed, 5000, 'close after protocol 4.0');
    const error = fatalOf(conn.messages);
    expect(error).toMatchObject({ severity: 'FATAL', code: '08P01' });
    expect(error?.message).toContain('unsupported frontend protocol 4.0');
  });

  it('rejects a startup packet with a huge length prefix', async () => {
    const conn = await rawConnect(t.proxy.port);
    const packet = Buffer.alloc(8);
    packet.writeInt32BE(0x7fffffff, 0);
    packet.writeInt32BE(196608, 4);
    conn.socket.write(packet);
    await withTimeout(conn.closed, 5000, 'close after huge startup length');
    expect(fatalOf(conn.messages)).toMatchObject({ code: '08P01' });
  });

  it('closes a session whose message declares a length over --max-message-size, before reading it', async () => {
    const { socket, failed } = await sessionWithSocket();
    const header = Buffer.alloc(5);
    header[0] = 0x51; // 'Q'
    header.writeInt32BE(0x7ffffff0, 1);
    socket.write(header);
    const error = await withTimeout(failed, 5000, 'error after huge message');
    expect(error).toMatchObject({ code: '08P01' });
  });

  it('passes an unknown message type to PostgreSQL, whose FATAL 08P01 reaches the client', async () => {
    const { socket, failed } = await sessionWithSocket();
    socket.write(Buffer.from([0x21, 0, 0, 0, 4]));
    const error = await withTimeout(failed, 5000, 'error after unknown message');
    expect(error).toMatchObject({ code: '08P01' });
    expect((error as Error).message).toContain('invalid frontend message type 33');
  });

  it('ends the PostgreSQL session of a client that sends half a message and goes', async () => {
    const { socket } = await sessionWithSocket();
    const query = Buffer.from('Q\0\0\0\x20SELECT 1');
    socket.end(query);
    await once(socket, 'close');
  });

  it('ends the PostgreSQL session of a client that vanishes mid-COPY', async () => {
    const { client, socket } = await sessionWithSocket();
    await client.query('CREATE TABLE IF NOT EXISTS vanish_t (line text)');
    const copy = client.query(copyFrom('COPY vanish_t FROM STDIN'));
    copy.on('error', () => undefined);
    for (let i = 0; i < 1000; i += 1) copy.write(`row ${i}\n`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.destroy();
    await eventually(
      () => countBackends(t.db.name),
      (n) => n === baseline,
    );
    const check = new pg.Client(t.db.direct);
    await check.connect();
    expect((await check.query('SELECT count(*)::int AS n FROM vanish_t')).rows[0].n).toBe(0);
    await check.end();
  });

  it('answers GSSENCRequest and SSLRequest (without TLS) with N, in either order, then serves the session', async () => {
    const conn = await rawConnect(t.proxy.port, '127.0.0.1', false);
    conn.socket.write(codePacket(80877104));
    conn.socket.write(codePacket(80877103));
    await eventually(
      async () => conn.bytes().length,
      (n) => n >= 2,
    );
    expect(conn.bytes().toString()).toBe('NN');
    conn.socket.write(startupPacket(196608, { user: 'procgate', database: t.db.name }));
    // The server now asks for a password (SCRAM): the startup went through to PostgreSQL.
    await eventually(
      async () => conn.bytes().length,
      (n) => n > 2,
    );
    expect(conn.bytes()[2]).toBe(0x52); // 'R'
    conn.socket.destroy();
  });
});
