import { serialize } from 'pg-protocol';
import { describe, expect, it } from 'vitest';
import { PgError } from '../../src/errors/pg-error.js';
import { MessageFramer } from '../../src/proxy/message-framer.js';

const Q = 0x51;
const P = 0x50;

interface Harness {
  readonly framer: MessageFramer;
  readonly written: Buffer[];
  readonly inspected: string[];
}

function harness(replace?: (message: Buffer) => Buffer | undefined, writable = true): Harness {
  const written: Buffer[] = [];
  const inspected: string[] = [];
  const framer = new MessageFramer({
    maxMessageSize: 1024,
    wholeMessageTypes: new Set([Q, P]),
    inspect: (type, message) => {
      inspected.push(`${String.fromCharCode(type)}:${message.length}`);
      return replace?.(message);
    },
    write: (bytes) => {
      written.push(Buffer.from(bytes));
      return writable;
    },
  });
  return { framer, written, inspected };
}

function copyData(size: number): Buffer {
  const message = Buffer.alloc(5 + size, 0x61);
  message[0] = 0x64; // 'd'
  message.writeInt32BE(4 + size, 1);
  return message;
}

/** A session's worth of frontend messages of several kinds. */
const stream = Buffer.concat([
  serialize.query('SELECT 1'),
  serialize.parse({ name: 's1', text: 'SELECT $1::int', types: [] }),
  serialize.bind({ statement: 's1', values: ['7'] }),
  serialize.describe({ type: 'P' }),
  serialize.execute({}),
  serialize.sync(),
  copyData(300),
  serialize.query('SELECT 2; SELECT 3'),
]);

describe('MessageFramer', () => {
  it('shows observed messages by the start the chunk holds, and forwards them untouched', () => {
    const written: Buffer[] = [];
    const observed: string[] = [];
    const framer = new MessageFramer({
      maxMessageSize: 1024,
      wholeMessageTypes: new Set([Q]),
      inspect: () => undefined,
      observedTypes: new Set([0x42, 0x45]), // Bind, Execute
      observe: (type, head) => observed.push(`${String.fromCharCode(type)}:${head.length}`),
      write: (bytes) => written.push(Buffer.from(bytes)) > 0,
    });
    const bind = serialize.bind({ statement: 's1', values: ['x'.repeat(100)] });
    // The Bind is cut after 20 bytes: its observer sees those, the rest streams by.
    framer.push(Buffer.concat([serialize.query('SELECT 1'), bind.subarray(0, 20)]));
    framer.push(Buffer.concat([bind.subarray(20), serialize.execute({})]));
    expect(observed).toEqual(['B:20', 'E:10']);
    expect(Buffer.concat(written).equals(Buffer.concat([serialize.query('SELECT 1'), bind, serialize.execute({})]))).toBe(true);
  });

  it('forwards a whole stream unchanged and as one write when nothing is replaced', () => {
    const { framer, written, inspected } = harness();
    expect(framer.push(stream)).toBe(true);
    expect(written).toHaveLength(1);
    expect(Buffer.concat(written).equals(stream)).toBe(true);
    expect(inspected).toEqual(['Q:14', 'P:25', 'Q:24']);
  });

  it('forwards the same bytes whatever the chunk boundaries', () => {
    for (const size of [1, 2, 3, 4, 5, 7, 13, 64, 301]) {
      const { framer, written, inspected } = harness();
      for (let offset = 0; offset < stream.length; offset += size)
        framer.push(stream.subarray(offset, offset + size));
      expect(Buffer.concat(written).equals(stream), `chunk size ${size}`).toBe(true);
      expect(inspected).toEqual(['Q:14', 'P:25', 'Q:24']);
    }
  });

  it('puts replacements in place of the inspected message, in order', () => {
    const replacement = serialize.query('SELECT 99');
    const { framer, written } = harness((message) =>
      message.includes('SELECT 2') ? replacement : undefined,
    );
    for (let offset = 0; offset < stream.length; offset += 10)
      framer.push(stream.subarray(offset, offset + 10));
    const last = serialize.query('SELECT 2; SELECT 3');
    const expected = Buffer.concat([stream.subarray(0, stream.length - last.length), replacement]);
    expect(Buffer.concat(written).equals(expected)).toBe(true);
  });

  it('reports backpressure from the writer', () => {
    const { framer } = harness(undefined, false);
    expect(framer.push(serialize.sync())).toBe(false);
  });

  it('throws a FATAL 08P01 on a length over the limit or under 4, before the message', () => {
    const { framer, written } = harness();
    const huge = Buffer.from([0x64, 0x7f, 0xff, 0xff, 0xff]);
    const error = (() => {
      try {
        framer.push(Buffer.concat([serialize.sync(), huge]));
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(PgError);
    expect(error).toMatchObject({ code: '08P01', severity: 'FATAL' });
    expect(Buffer.concat(written).equals(serialize.sync())).toBe(true);
    expect(() => harness().framer.push(Buffer.from([0x53, 0, 0, 0, 3]))).toThrow(PgError);
  });
});
