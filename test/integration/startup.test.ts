import { describe, expect, it } from 'vitest';
import { eventually, useProxiedDatabase } from '../support/test-database.js';
import { rawConnect, startupPacket } from '../support/wire-client.js';

const t = useProxiedDatabase('startup');

/** Type bytes of the backend messages in a raw byte stream. */
function messageTypes(bytes: Buffer): string[] {
  const types: string[] = [];
  for (let offset = 0; offset + 5 <= bytes.length; offset += 1 + bytes.readInt32BE(offset + 1)) {
    types.push(String.fromCharCode(bytes[offset]!));
  }
  return types;
}

describe('startup', () => {
  it("forwards a 3.x StartupMessage with _pq_ options and relays PostgreSQL's one NegotiateProtocolVersion", async () => {
    const conn = await rawConnect(t.proxy.port, '127.0.0.1', false);
    conn.socket.write(
      startupPacket((3 << 16) | 9, { user: 'procgate', database: t.db.name, '_pq_.unknown_option': 'x' }),
    );
    await eventually(
      async () => messageTypes(conn.bytes()),
      (types) => types.includes('R'),
    );
    const bytes = conn.bytes();
    expect(messageTypes(bytes)).toEqual(['v', 'R']);
    // NegotiateProtocolVersion: newest minor PostgreSQL supports, then the options it did not recognise.
    const body = bytes.subarray(5, 1 + bytes.readInt32BE(1));
    const newest = body.readInt32BE(0);
    expect(newest >>> 16).toBe(3);
    expect(newest & 0xffff).toBeLessThan(9);
    expect(body.readInt32BE(4)).toBe(1);
    expect(body.toString('utf8', 8)).toBe('_pq_.unknown_option\0');
    conn.socket.destroy();
  });
});
