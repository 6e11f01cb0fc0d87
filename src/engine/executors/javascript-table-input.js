// @ts-check
/**
 * Reading a javascript segment's input files in binary COPY (see
 * javascript-tables.js for the inputs as a module sees them), and the
 * iterator that hands out rows decoded a chunk at a time. Runs in the
 * segment's child process.
 */
import { open } from 'node:fs/promises';
import { binaryBatchDecoder, binaryRowDecoder } from './javascript-binary-rows.js';
import { TupleReader } from './javascript-copy-binary.js';

/** @typedef {import('../segment-task.js').TableFile} TableFile */
/** @typedef {import('node:stream').Readable} Readable */

/** Binary files are read in chunks of this many bytes. */
const BINARY_CHUNK_SIZE = 256 * 1024;

/**
 * Hands out the items of chunks one at a time; an item costs one settled
 * promise.
 * @template Item, Row
 * @param {AsyncGenerator<Item[], void, undefined>} chunks
 * @param {(item: Item) => Row} decode
 * @returns {AsyncIterator<Row, void, undefined> & AsyncIterable<Row>}
 */
export function rowIterator(chunks, decode) {
  /** @type {Item[]} */
  let lines = [];
  let next = 0;
  /** @type {IteratorResult<Row, void>} */
  const finished = { done: true, value: undefined };
  const iterator = {
    /** @returns {Promise<IteratorResult<Row, void>>} */
    next() {
      if (next < lines.length) {
        try {
          return Promise.resolve({ done: false, value: decode(/** @type {Item} */ (lines[next++])) });
        } catch (error) {
          return Promise.reject(/** @type {Error} */ (error));
        }
      }
      return chunks.next().then((chunk) => {
        if (chunk.done === true) return finished;
        lines = chunk.value;
        next = 0;
        return iterator.next();
      });
    },
    /** @returns {Promise<IteratorResult<Row, void>>} */
    async return() {
      lines = [];
      await chunks.return(undefined);
      return finished;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

/**
 * Reads a binary input file a chunk at a time, calling `each` for every
 * tuple (see TupleReader) and yielding after each chunk.
 * @param {TableFile} file
 * @param {Set<Readable>} reading
 * @param {(buffer: Buffer, starts: Int32Array, lengths: Int32Array) => void} each
 * @returns {AsyncGenerator<void, void, undefined>}
 */
async function* tuplesOfFile(file, reading, each) {
  const handle = await open(file.path, 'r');
  const stream = handle.createReadStream({ highWaterMark: BINARY_CHUNK_SIZE });
  reading.add(stream);
  try {
    const reader = new TupleReader(file.columns.length);
    const { starts, lengths } = reader;
    const tuple = (/** @type {Buffer} */ buffer) => each(buffer, starts, lengths);
    for await (const chunk of stream) {
      reader.feed(/** @type {Buffer} */ (chunk), tuple);
      yield;
      if (reader.ended) return;
    }
    reader.finish();
  } finally {
    reading.delete(stream);
    stream.destroy();
  }
}

/**
 * The rows of a binary input file, decoded a chunk at a time.
 * @param {TableFile} file
 * @param {Set<Readable>} reading
 */
export function readBinaryRows(file, reading) {
  const decode = binaryRowDecoder(file.columns);
  /** @type {Record<string, unknown>[]} */
  let rows = [];
  const tuples = tuplesOfFile(file, reading, (buffer, starts, lengths) => {
    rows.push(decode(buffer, starts, lengths));
  });
  /** @returns {AsyncGenerator<Record<string, unknown>[], void, undefined>} */
  async function* chunks() {
    for await (const _ of tuples) {
      const decoded = rows;
      rows = [];
      if (decoded.length > 0) yield decoded;
    }
  }
  return rowIterator(chunks(), (/** @type {Record<string, unknown>} */ row) => row);
}

/**
 * The rows of a binary input file as batches of columns, each tuple
 * decoded straight into the batch being filled.
 * @param {TableFile} file
 * @param {Set<Readable>} reading
 * @param {number} size
 * @returns {AsyncGenerator<import('./javascript-messages.js').JavascriptBatch, void, undefined>}
 */
export async function* readBinaryBatches(file, reading, size) {
  const decoder = binaryBatchDecoder(file.columns, size);
  /** @type {import('./javascript-messages.js').JavascriptBatch[]} */
  let full = [];
  const tuples = tuplesOfFile(file, reading, (buffer, starts, lengths) => {
    decoder.add(buffer, starts, lengths);
    if (decoder.full()) full.push(decoder.take());
  });
  for await (const _ of tuples) {
    const ready = full;
    full = [];
    yield* ready;
  }
  if (decoder.length() > 0) yield decoder.take();
}
