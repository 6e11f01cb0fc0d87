// @ts-check
/**
 * PostgreSQL's binary COPY format, the framing only: a header (an
 * 11-byte signature, 32-bit flags, a header extension), then one tuple
 * per row (a 16-bit field count, then per field a 32-bit length, -1 for
 * NULL, and that many bytes), then a trailer (a field count of -1).
 * Integers are big-endian. What the bytes of a field mean is the type's
 * (see javascript-binary-values.js). Plain JavaScript, because the
 * javascript child process uses it.
 *
 * https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4
 */

/** The first bytes of every binary COPY file. */
export const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/** The signature, flags 0 (no OIDs) and an empty header extension. */
export const HEADER = Buffer.concat([SIGNATURE, Buffer.alloc(8)]);

/** A field count of -1: no more tuples. */
export const TRAILER = Buffer.from([0xff, 0xff]);

/**
 * Splits the bytes of a binary COPY file, fed a chunk at a time, into
 * tuples: for each complete tuple `each(buffer)` is called with the
 * field offsets in `starts` and lengths in `lengths` (-1: NULL), valid
 * until it returns. A tuple cut by the end of a chunk waits for the next
 * (its bytes are gathered once, however many chunks it spans).
 */
export class TupleReader {
  /** Field count of the rows. */
  #count;
  /** Bytes not yet consumed: the start of a tuple cut by the chunk's end. @type {Buffer[]} */
  #rest = [];
  #restLength = 0;
  /** Bytes needed before the rest can make progress. */
  #need = 0;
  #header = false;
  /** The trailer was read: nothing after it counts. */
  ended = false;

  /** @param {number} count */
  constructor(count) {
    this.#count = count;
    this.starts = new Int32Array(count);
    this.lengths = new Int32Array(count);
  }

  /**
   * @param {Buffer} chunk
   * @param {(buffer: Buffer) => void} each
   */
  feed(chunk, each) {
    if (this.ended) return;
    let buffer = chunk;
    let position = 0;
    if (this.#restLength > 0 && this.#header) {
      // Only the cut tuple is gathered: its start and as much of the chunk as it needs.
      const rest = Buffer.concat(this.#rest, this.#restLength);
      for (;;) {
        const taken = this.#need - rest.length;
        if (taken > chunk.length) {
          this.#rest = [rest, chunk];
          this.#restLength = rest.length + chunk.length;
          return;
        }
        const joined = Buffer.concat([rest, chunk.subarray(0, taken)]);
        const end = this.#tuples(joined, 0, each, 1);
        if (this.ended) return;
        if (end > 0) {
          position = end - rest.length;
          break;
        }
      }
      this.#rest = [];
      this.#restLength = 0;
    } else if (this.#restLength > 0) {
      this.#rest.push(chunk);
      this.#restLength += chunk.length;
      if (this.#restLength < this.#need) return;
      buffer = Buffer.concat(this.#rest, this.#restLength);
      this.#rest = [];
      this.#restLength = 0;
    }
    if (!this.#header) {
      if (buffer.length < HEADER.length) return this.#keep(buffer, 0, HEADER.length);
      if (!buffer.subarray(0, SIGNATURE.length).equals(SIGNATURE)) throw new Error('not a file in COPY binary format: its signature is missing');
      const extension = buffer.readUInt32BE(15);
      if (buffer.length < HEADER.length + extension) return this.#keep(buffer, 0, HEADER.length + extension);
      position = HEADER.length + extension;
      this.#header = true;
    }
    position = this.#tuples(buffer, position, each, Infinity);
    if (!this.ended && position < buffer.length) this.#keep(buffer, position, this.#need);
  }

  /** Fails when the bytes ended inside a tuple or before the trailer. */
  finish() {
    if (!this.ended && (this.#header || this.#restLength > 0)) throw new Error('a file in COPY binary format ends without its trailer');
  }

  /**
   * @param {Buffer} buffer
   * @param {number} position
   * @param {(buffer: Buffer) => void} each
   * @param {number} most tuples to read
   * @returns {number} where the first tuple not read starts
   */
  #tuples(buffer, position, each, most) {
    const { starts, lengths } = this;
    const count = this.#count;
    const end = buffer.length;
    for (let read = 0; read < most; read += 1) {
      const start = position;
      if (start + 2 > end) return this.#short(start, 2);
      const fields = ((buffer[start] ?? 0) << 24) >> 16 | (buffer[start + 1] ?? 0);
      if (fields === -1) {
        this.ended = true;
        return end;
      }
      if (fields !== count) throw new Error(`a row with ${String(fields)} fields where ${String(count)} columns were expected`);
      position += 2;
      for (let c = 0; c < count; c += 1) {
        if (position + 4 > end) return this.#short(start, position + 4 - start);
        const length = buffer.readInt32BE(position);
        position += 4;
        starts[c] = position;
        lengths[c] = length;
        if (length > 0) {
          position += length;
          if (position > end) return this.#short(start, position - start);
        }
      }
      each(buffer);
    }
    return position;
  }

  /**
   * @param {number} start
   * @param {number} need
   */
  #short(start, need) {
    this.#need = need;
    return start;
  }

  /**
   * @param {Buffer} buffer
   * @param {number} from
   * @param {number} need
   */
  #keep(buffer, from, need) {
    this.#rest = [buffer.subarray(from)];
    this.#restLength = buffer.length - from;
    this.#need = need;
  }
}

/** A growing buffer that tuples are written into, then taken out a chunk at a time. */
export class BinaryWriter {
  buffer = Buffer.allocUnsafe(256 * 1024);
  length = 0;

  /** @param {number} bytes room needed after length */
  ensure(bytes) {
    if (this.length + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }

  /** @param {number} value */
  int16(value) {
    this.buffer.writeInt16BE(value, this.length);
    this.length += 2;
  }

  /** @param {number} value */
  int32(value) {
    this.buffer.writeInt32BE(value, this.length);
    this.length += 4;
  }

  /** @param {Uint8Array} bytes */
  bytes(bytes) {
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  /**
   * A field holding `text` in UTF-8: its length, then its bytes.
   * @param {string} text
   */
  text(text) {
    this.ensure(4 + text.length * 3);
    const written = this.buffer.write(text, this.length + 4, 'utf8');
    this.int32(written);
    this.length += written;
  }

  /** @returns {Buffer} what was written; the writer starts again in a buffer of its own */
  take() {
    const taken = this.buffer.subarray(0, this.length);
    this.buffer = Buffer.allocUnsafeSlow(this.buffer.length);
    this.length = 0;
    return taken;
  }
}
