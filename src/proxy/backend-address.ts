import net from 'node:net';

/** Where the sessions' PostgreSQL listens: a Unix socket (faster) or TCP. */
export type BackendAddress =
  | { readonly kind: 'unix'; readonly path: string }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number };

/** Opens a connection to PostgreSQL with Nagle off: the protocol is request/response. */
export function connectBackend(address: BackendAddress): net.Socket {
  const socket =
    address.kind === 'unix'
      ? net.connect({ path: address.path })
      : net.connect({ host: address.host, port: address.port });
  socket.setNoDelay(true);
  return socket;
}

export function describeBackend(address: BackendAddress): string {
  return address.kind === 'unix' ? address.path : `${address.host}:${address.port}`;
}
