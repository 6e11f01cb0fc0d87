import net from 'node:net';
import { type ChunkHandler, onreadOptions } from './fast-reads.js';

/** Where the sessions' PostgreSQL listens: a Unix socket (faster) or TCP. */
export type BackendAddress =
  | { readonly kind: 'unix'; readonly path: string }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number };

/**
 * Opens a connection to PostgreSQL with Nagle off (the protocol is
 * request/response). With `onChunk`, what it reads goes there instead of to
 * 'data' events (see {@link onreadOptions}).
 */
export function connectBackend(address: BackendAddress, onChunk?: ChunkHandler): net.Socket {
  const onread = onChunk === undefined ? {} : { onread: onreadOptions(onChunk) };
  const socket =
    address.kind === 'unix'
      ? net.connect({ path: address.path, ...onread })
      : net.connect({ host: address.host, port: address.port, ...onread });
  socket.setNoDelay(true);
  return socket;
}
