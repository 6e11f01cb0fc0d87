import { once } from 'node:events';
import type net from 'node:net';
import tls from 'node:tls';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
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

/** What a server sends back to `bytes` sent first on a new connection, until it closes. */
async function replyBeforeStartup(port: number, host: string, bytes: Buffer, end: boolean): Promise<unknown> {
  const conn = await rawConnect(port, host);
  if (end) conn.socket.end(bytes);
  else conn.socket.write(bytes);
  await withTimeout(conn.closed, 5000, 'close before startup');
  return conn.messages.map((message) => ({ ...message }));
}

describe('bad input', () => {
  it('answers what comes before a StartupMessage as PostgreSQL does (differential)', async () => {
    const hugeLength = Buffer.alloc(8);
    hugeLength.writeInt32BE(0x7fffffff, 0);
    hugeLength.writeInt32BE(196608, 4);
    // Sent as they are; the truncated one then ends the connection, which is what the server answers.
    const cases: Record<string, Buffer> = {
      garbage: Buffer.from('GET / HTTP/1.1\r\nHost: example\r\n\r\n'),
      // node-postgres's connect(); end() sends Terminate before its StartupMessage.
      'terminate first': Buffer.from([0x58, 0, 0, 0, 4]),
      'huge length': hugeLength,
      'length 7': Buffer.from([0, 0, 0, 7, 0, 3, 0, 0]),
      'truncated startup': startupPacket(196608, { user: 'procgate', database: t.db.name }).subarray(0, 11),
      'cancel request of 12 bytes': Buffer.from([0, 0, 0, 12, 0x4, 0xd2, 0x16, 0x2e, 0, 0, 0, 1]),
      'protocol 4.0': startupPacket(4 << 16, { user: 'procgate', database: t.db.name }),
      'parameters without terminator': Buffer.from([0, 0, 0, 14, 0, 3, 0, 0, 0x75, 0, 0x76, 0x76, 0x76, 0x76]),
      'no user': startupPacket(196608, { database: t.db.name }),
    };
    const direct = { host: String(t.db.direct.host), port: Number(t.db.direct.port) };
    for (const [name, bytes] of Object.entries(cases)) {
      const end = name === 'truncated startup';
      const expected = await replyBeforeStartup(direct.port, direct.host, bytes, end);
      expect(await replyBeforeStartup(t.proxy.port, t.proxy.host, bytes, end), name).toEqual(expected);
    }
  });

  it('closes a direct TLS handshake without a reply when TLS is not configured, as PostgreSQL without ssl', async () => {
    const attempt = (host: string, port: number): Promise<unknown> =>
      new Promise((resolve) => {
        const received: Buffer[] = [];
        const socket = tls.connect({ host, port, ALPNProtocols: ['postgresql'], rejectUnauthorized: false });
        socket.on('data', (chunk: Buffer) => received.push(chunk));
        socket.once('secureConnect', () => resolve('handshake completed'));
        socket.once('error', (error) => resolve({ error: error.message, received: Buffer.concat(received) }));
      });
    const expected = await attempt(String(t.db.direct.host), Number(t.db.direct.port));
    expect(expected).toMatchObject({ received: Buffer.alloc(0) });
    expect(await attempt(t.proxy.host, t.proxy.port)).toEqual(expected);
  });

  it('lets node-postgres end a client it has only begun to connect, as PostgreSQL does', async () => {
    const attempt = async (config: pg.ClientConfig): Promise<unknown> => {
      const client = new pg.Client(config);
      const errors: string[] = [];
      client.on('error', (error) => errors.push(error.message));
      const connected = client.connect().then(
        () => 'connected',
        (error: Error) => `rejected: ${error.message}`,
      );
      await client.end();
      // PostgreSQL closes without a word: pg ends the client and its connect() never settles.
      const settled = await Promise.race([connected, new Promise((resolve) => setTimeout(resolve, 300, 'pending'))]);
      return { connected: settled, errors };
    };
    const expected = await attempt(t.db.direct);
    expect(await attempt(t.proxy.config(t.db.name))).toEqual(expected);
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
