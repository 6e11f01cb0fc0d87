import net from 'node:net';
import type { BackendMessage } from 'pg-protocol/dist/messages.js';
import { Parser } from 'pg-protocol/dist/parser.js';

/** A raw socket to a server that records the backend messages it receives. */
export interface RawConnection {
  readonly socket: net.Socket;
  readonly messages: BackendMessage[];
  /** Raw bytes received, for replies that are not messages (the 'S'/'N' answer to SSLRequest). */
  readonly bytes: () => Buffer;
  /** Resolves when the server has closed the connection. */
  readonly closed: Promise<void>;
}

export async function rawConnect(port: number, host = '127.0.0.1', parse = true): Promise<RawConnection> {
  const socket = net.connect({ port, host });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const messages: BackendMessage[] = [];
  const chunks: Buffer[] = [];
  const parser = new Parser();
  socket.on('data', (chunk: Buffer) => {
    // Copied: pg-protocol's parser reuses the chunks it is given as its own buffer.
    chunks.push(Buffer.from(chunk));
    if (parse) parser.parse(chunk, (message) => messages.push(message));
  });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, messages, bytes: () => Buffer.concat(chunks), closed };
}

/** A startup packet with any protocol version. */
export function startupPacket(version: number, parameters: Record<string, string>): Buffer {
  const body = Buffer.from(
    `${Object.entries(parameters)
      .map(([key, value]) => `${key}\0${value}\0`)
      .join('')}\0`,
  );
  const out = Buffer.alloc(8 + body.length);
  out.writeInt32BE(out.length, 0);
  out.writeInt32BE(version, 4);
  body.copy(out, 8);
  return out;
}

/** A length-prefixed request with only a code (SSLRequest, GSSENCRequest). */
export function codePacket(code: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeInt32BE(8, 0);
  out.writeInt32BE(code, 4);
  return out;
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms).unref()),
  ]);
}
