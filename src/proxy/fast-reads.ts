import net from 'node:net';
import tls from 'node:tls';

/** Receives one chunk read from a socket; returns false to stop reading until `resume()` (backpressure). */
export type ChunkHandler = (chunk: Buffer) => boolean;

/** The reused read buffer: as large as one read of a busy COPY stream. */
const READ_BUFFER_SIZE = 64 * 1024;

/**
 * Node's `onread` option: the socket reads into one reused buffer and calls
 * us directly, without the readable-stream machinery a 'data' listener
 * goes through on every read. That machinery is most of what relaying a
 * small message costs, so this is the proxy's hot path.
 *
 * The buffer is reused by the next read, while bytes we forward may still
 * wait in the other socket's write queue, so each chunk is copied out; a
 * copy of a read is far cheaper than the stream events it replaces.
 * @see https://nodejs.org/api/net.html#socketconnectoptions-connectlistener
 */
export function onreadOptions(onChunk: ChunkHandler): net.OnReadOpts {
  return {
    buffer: Buffer.allocUnsafe(READ_BUFFER_SIZE),
    callback: (bytes: number, buffer: Uint8Array): boolean => {
      const chunk = Buffer.allocUnsafe(bytes);
      chunk.set(buffer.subarray(0, bytes));
      return onChunk(chunk);
    },
  };
}

/**
 * Re-creates an accepted plain TCP or Unix socket around the same OS handle,
 * reading with {@link onreadOptions}: a server cannot give `onread` to the
 * sockets it accepts. Returns undefined (keep the socket and its 'data'
 * events) for a TLS socket or one whose handle is gone. The socket must be
 * paused with nothing left in its read buffer.
 */
export function adoptWithFastReads(socket: net.Socket, onChunk: ChunkHandler): net.Socket | undefined {
  const internals = socket as unknown as { _handle: object | null };
  const handle = internals._handle;
  if (socket instanceof tls.TLSSocket || handle === null || socket.readableLength > 0) return undefined;
  let adopted: net.Socket;
  try {
    // Built before the old socket lets go of the handle, so a Node without this option changes nothing.
    adopted = new net.Socket({
      handle,
      readable: true,
      writable: true,
      onread: onreadOptions(onChunk),
    } as net.SocketConstructorOpts);
  } catch {
    return undefined;
  }
  socket.removeAllListeners();
  internals._handle = null;
  // Destroying the emptied shell closes nothing, but lets its server count it as gone.
  socket.destroy();
  adopted.setNoDelay(true);
  return adopted;
}
