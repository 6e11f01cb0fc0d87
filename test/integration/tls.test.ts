import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestDatabase,
  startTestProxy,
  type TestDatabase,
  type TestProxy,
} from '../support/test-database.js';
import { codePacket, rawConnect, withTimeout } from '../support/wire-client.js';

const execFileAsync = promisify(execFile);

let db: TestDatabase;
let proxy: TestProxy;
let certDir: string;
let cert: Buffer;

beforeAll(async () => {
  db = await createTestDatabase('tls');
  certDir = await mkdtemp(path.join(os.tmpdir(), 'tls-'));
  const certFile = path.join(certDir, 'server.crt');
  const keyFile = path.join(certDir, 'server.key');
  // A throwaway self-signed certificate made at test time.
  await execFileAsync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout',
    keyFile,
    '-out',
    certFile,
  ]);
  cert = await readFile(certFile);
  proxy = await startTestProxy({ tls: { cert, key: await readFile(keyFile) } });
});

afterAll(async () => {
  await proxy.close();
  await db.drop();
  await rm(certDir, { recursive: true, force: true });
});

/** A direct TLS connection to procgate (no SSLRequest first), offering `alpn`. */
function directTls(alpn: string[] | undefined): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: proxy.host,
      port: proxy.port,
      ca: cert,
      servername: 'localhost',
      ...(alpn === undefined ? {} : { ALPNProtocols: alpn }),
    });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed during the handshake')));
  });
}

/** Records what arrives on `socket`. */
function collect(socket: tls.TLSSocket): {
  bytes: () => Buffer;
  atLeast: (n: number) => Promise<Buffer>;
  closed: Promise<void>;
} {
  const chunks: Buffer[] = [];
  const waiters: (() => void)[] = [];
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    for (const wake of waiters.splice(0)) wake();
  });
  socket.on('error', () => undefined);
  const bytes = (): Buffer => Buffer.concat(chunks);
  const atLeast = async (n: number): Promise<Buffer> => {
    while (bytes().length < n) await new Promise<void>((resolve) => waiters.push(resolve));
    return bytes();
  };
  return { bytes, atLeast, closed: new Promise((resolve) => socket.once('close', () => resolve())) };
}

describe('TLS terminated by procgate', () => {
  it('serves pg over TLS, verified against the certificate', async () => {
    const client = new pg.Client({ ...proxy.config(db.name), ssl: { ca: cert, servername: 'localhost' } });
    await client.connect();
    const stream = (client as unknown as { connection: { stream: tls.TLSSocket } }).connection.stream;
    expect(stream.encrypted).toBe(true);
    expect((await client.query('SELECT 1 + 1 AS two')).rows[0].two).toBe(2);
    await client.end();
  });

  it('serves psql with sslmode=require', async () => {
    const { stdout } = await execFileAsync('psql', [
      `${proxy.url(db.name)}?sslmode=require`,
      '--no-psqlrc',
      '-c',
      '\\conninfo',
    ]);
    expect(stdout).toContain('SSL connection (protocol: TLSv1.3');
  });

  it('cannot do channel_binding=require, as documented', async () => {
    const failure = await execFileAsync('psql', [
      `${proxy.url(db.name)}?sslmode=require&channel_binding=require`,
      '--no-psqlrc',
      '-c',
      'SELECT 1',
    ]).catch((error: { stderr: string }) => error);
    expect((failure as { stderr: string }).stderr).toContain('channel binding');
  });

  it('accepts direct TLS (sslnegotiation=direct, ALPN postgresql) from pg', async () => {
    const client = new pg.Client({
      ...proxy.config(db.name),
      ssl: { ca: cert, servername: 'localhost' },
      sslnegotiation: 'direct',
    });
    await client.connect();
    const stream = (client as unknown as { connection: { stream: tls.TLSSocket } }).connection.stream;
    expect(stream.alpnProtocol).toBe('postgresql');
    expect((await client.query('SELECT 1 + 1 AS two')).rows[0].two).toBe(2);
    await client.end();
  });

  it('serves a StartupMessage over direct TLS from tls.connect, and refuses a second TLS layer inside it', async () => {
    const socket = await directTls(['postgresql']);
    expect(socket.alpnProtocol).toBe('postgresql');
    const received = collect(socket);
    // As PostgreSQL over direct TLS: an SSLRequest inside TLS is answered 'N'.
    socket.write(codePacket(80877103));
    socket.write(serialize.startup({ user: 'procgate', database: db.name }));
    const bytes = await withTimeout(received.atLeast(2), 5000, 'answer over direct TLS');
    expect(bytes[0]).toBe(0x4e); // 'N'
    expect(bytes[1]).toBe(0x52); // 'R': PostgreSQL asks for the password
    socket.destroy();
  });

  it('closes a direct TLS connection without ALPN, or with another protocol, without a reply', async () => {
    const withoutAlpn = await directTls(undefined);
    const received = collect(withoutAlpn);
    withoutAlpn.write(serialize.startup({ user: 'procgate', database: db.name }));
    await withTimeout(received.closed, 5000, 'close without ALPN');
    expect(received.bytes()).toHaveLength(0);

    await expect(directTls(['http/1.1'])).rejects.toThrow();
  });

  it('rejects bytes sent after SSLRequest before the handshake', async () => {
    const conn = await rawConnect(proxy.port);
    conn.socket.write(
      Buffer.concat([codePacket(80877103), serialize.startup({ user: 'procgate', database: db.name })]),
    );
    await withTimeout(conn.closed, 5000, 'close after stuffed SSLRequest');
    expect(conn.bytes()[0]).not.toBe(0x53); // never 'S'
    expect(conn.messages.find((m) => m.name === 'error')).toMatchObject({ code: '08P01' });
  });
});
