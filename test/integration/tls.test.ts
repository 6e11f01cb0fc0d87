import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type tls from 'node:tls';
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
