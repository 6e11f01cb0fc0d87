import { PgError } from '../errors/pg-error.js';
import { readMessageLength } from '../wire/message-header.js';
import { HEADER_LENGTH } from '../wire/protocol.js';

const STREAM = 0;
const OBSERVE = 1;
const WHOLE = 2;

export interface MessageFramerOptions {
  /** Largest declared message length accepted, as PostgreSQL's 1 GiB limit. */
  readonly maxMessageSize: number;
  /** Type bytes of messages that must be seen whole (e.g. Query, Parse); all others stream through. */
  readonly wholeMessageTypes: ReadonlySet<number>;
  /**
   * Looks at one whole message of a type in `wholeMessageTypes`; returns the
   * bytes to send in its place, or undefined to forward it untouched.
   */
  readonly inspect: (type: number, message: Buffer) => Buffer | undefined;
  /** Type bytes of streamed messages whose start `observe` is shown (to count replies, read a name). */
  readonly observedTypes?: ReadonlySet<number>;
  /**
   * Sees the start of a message of a type in `observedTypes` as it streams
   * by: its header and as much of its body as the chunk holds (a view, not a
   * copy), which may be all of it or only part of it.
   */
  readonly observe?: (type: number, head: Buffer) => void;
  /** Sends bytes to PostgreSQL; false when its socket buffer is full (backpressure). */
  readonly write: (bytes: Buffer) => boolean;
}

/**
 * Walks one direction of a session's byte stream reading only message headers.
 * Runs of messages that need no inspection are forwarded as slices of the
 * chunk they arrived in, so the common case copies nothing; a message longer
 * than a chunk is streamed without being buffered, unless it must be seen
 * whole.
 */
export class MessageFramer {
  private readonly options: MessageFramerOptions;
  /** What to do on each type byte, looked up once per message (cheaper than sets on the hot path). */
  private readonly actions = new Uint8Array(256);
  private whole: ReadonlySet<number> = new Set();
  /** Bytes of a streamed message still to come in later chunks. */
  private skip = 0;
  /** Pieces of a whole message being collected across chunks. */
  private collected: Buffer[] = [];
  private collectMissing = 0;
  /** A message header cut by a chunk boundary (at most 4 bytes). */
  private headerStash: Buffer | undefined;

  constructor(options: MessageFramerOptions) {
    this.options = options;
    for (const type of options.observedTypes ?? []) this.actions[type] = OBSERVE;
    this.wholeMessageTypes = options.wholeMessageTypes;
  }

  /** Which types are handed whole to `inspect`; a session changes it as its phase changes. */
  get wholeMessageTypes(): ReadonlySet<number> {
    return this.whole;
  }

  set wholeMessageTypes(types: ReadonlySet<number>) {
    for (const type of this.whole) this.actions[type] = this.options.observedTypes?.has(type) ? OBSERVE : STREAM;
    for (const type of types) this.actions[type] = WHOLE;
    this.whole = types;
  }

  /**
   * Forwards one chunk. Returns false when a write hit backpressure. Throws a
   * FATAL PgError on a protocol violation; nothing after the bad header is sent.
   */
  push(input: Buffer): boolean {
    let chunk = input;
    if (this.headerStash !== undefined) {
      chunk = Buffer.concat([this.headerStash, input]);
      this.headerStash = undefined;
    }
    const { maxMessageSize, inspect, write } = this.options;
    const end = chunk.length;
    let pos = 0;
    let flushFrom = 0;
    let writable = true;

    while (pos < end) {
      if (this.skip > 0) {
        const take = Math.min(this.skip, end - pos);
        pos += take;
        this.skip -= take;
        continue;
      }
      if (this.collectMissing > 0) {
        const take = Math.min(this.collectMissing, end - pos);
        this.collected.push(chunk.subarray(pos, pos + take));
        this.collectMissing -= take;
        pos += take;
        flushFrom = pos;
        if (this.collectMissing === 0) {
          const message = Buffer.concat(this.collected);
          this.collected = [];
          writable = write(inspect(message[0]!, message) ?? message) && writable;
        }
        continue;
      }
      if (end - pos < HEADER_LENGTH) {
        if (pos > flushFrom) writable = write(chunk.subarray(flushFrom, pos)) && writable;
        this.headerStash = Buffer.from(chunk.subarray(pos));
        return writable;
      }
      const type = chunk[pos]!;
      const length = readMessageLength(chunk, pos);
      if (length < 4 || length > maxMessageSize) {
        if (pos > flushFrom) write(chunk.subarray(flushFrom, pos));
        throw PgError.protocolViolation(`invalid message length ${length}`);
      }
      const total = length + 1;
      const action = this.actions[type];
      if (action !== WHOLE) {
        if (action === OBSERVE) this.options.observe?.(type, chunk.subarray(pos, Math.min(pos + total, end)));
        if (pos + total <= end) {
          pos += total;
        } else {
          this.skip = pos + total - end;
          pos = end;
        }
        continue;
      }
      if (pos + total > end) {
        if (pos > flushFrom) writable = write(chunk.subarray(flushFrom, pos)) && writable;
        this.collected.push(chunk.subarray(pos));
        this.collectMissing = pos + total - end;
        pos = end;
        flushFrom = end;
        continue;
      }
      const replacement = inspect(type, chunk.subarray(pos, pos + total));
      if (replacement !== undefined) {
        if (pos > flushFrom) writable = write(chunk.subarray(flushFrom, pos)) && writable;
        writable = write(replacement) && writable;
        flushFrom = pos + total;
      }
      pos += total;
    }
    if (end > flushFrom)
      writable = write(flushFrom === 0 ? chunk : chunk.subarray(flushFrom, end)) && writable;
    return writable;
  }
}
