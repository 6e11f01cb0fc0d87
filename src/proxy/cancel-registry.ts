import type { BackendAddress } from './backend-address.js';
import { connectBackend } from './backend-address.js';

/**
 * Maps the key of each live session (BackendKeyData's process id and secret,
 * passed to the client unchanged) to the PostgreSQL that owns it, so a
 * CancelRequest arriving on a new connection can be forwarded there.
 */
export class CancelRegistry {
  private readonly sessions = new Map<string, BackendAddress>();

  register(key: Buffer, backend: BackendAddress): string {
    const id = key.toString('hex');
    this.sessions.set(id, backend);
    return id;
  }

  unregister(id: string): void {
    this.sessions.delete(id);
  }

  /**
   * Forwards a CancelRequest packet to the owner of its key. Unknown keys are
   * ignored, as PostgreSQL ignores them: the requester learns nothing.
   */
  forward(key: Buffer, packet: Buffer): Promise<boolean> {
    const backend = this.sessions.get(key.toString('hex'));
    if (backend === undefined) return Promise.resolve(false);
    return new Promise((resolve) => {
      const socket = connectBackend(backend);
      socket.on('connect', () => socket.end(packet));
      socket.on('close', () => resolve(true));
      socket.on('error', () => resolve(false));
    });
  }
}
