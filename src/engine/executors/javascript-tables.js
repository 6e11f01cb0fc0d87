// @ts-check
/**
 * A javascript segment's table files as its module sees them:
 * `ctx.inputs` (rows streamed from the files the engine wrote) and
 * `ctx.outputs` (writers filling the files the engine loads). Runs in the
 * segment's child process; everything a segment opens is closed when it
 * ends, since the process goes on to run other segments.
 */
import { open } from 'node:fs/promises';
import pg from 'pg';
import { batchDecoder } from './javascript-copy-batches.js';
import { END_OF_DATA, rowDecoder } from './javascript-copy-text.js';
import { readBinaryBatches, readBinaryRows, rowIterator } from './javascript-table-input.js';
import { CHUNK_SIZE, TableOutput } from './javascript-table-output.js';

/** @typedef {import('../segment-task.js').TableFile} TableFile */
/** @typedef {import('./javascript-messages.js').JavascriptInput} JavascriptInput */
/** @typedef {import('./javascript-messages.js').JavascriptOutput} JavascriptOutput */
/** @typedef {import('node:stream').Readable} Readable */

/** Rows in a batch of `batches()` unless told. */
const DEFAULT_BATCH_SIZE = 8192;

/** The tables of one segment, and what has to be closed when it ends. */
export class SegmentTables {
  /** Input streams being iterated: a module may stop iterating without finishing. @type {Set<Readable>} */
  #reading = new Set();
  /** @type {readonly TableOutput[]} */
  #outputs;
  /** @type {Readonly<Record<string, JavascriptInput>>} */
  inputs;
  /** @type {Readonly<Record<string, JavascriptOutput>>} */
  outputs;

  /**
   * @param {readonly TableFile[]} inputs
   * @param {readonly TableOutput[]} outputs
   */
  constructor(inputs, outputs) {
    this.#outputs = outputs;
    this.inputs = byNameAndPosition(inputs.map((file) => tableInput(file, this.#reading)));
    this.outputs = byNameAndPosition(outputs);
  }

  /**
   * Opens (creates) every output file, so each exists for the engine to
   * load even when the module writes nothing to it.
   * @param {readonly TableFile[]} inputs
   * @param {readonly TableFile[]} outputs
   */
  static async open(inputs, outputs) {
    const opened = await Promise.allSettled(outputs.map(async (file) => new TableOutput(file, await open(file.path, 'w', 0o600))));
    const writers = opened.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const failed = opened.find((result) => result.status === 'rejected');
    if (failed !== undefined) {
      await Promise.allSettled(writers.map((writer) => writer.close()));
      throw failed.reason;
    }
    return new SegmentTables(inputs, writers);
  }

  /** Stops the reading still under way, then flushes and closes the outputs: the first error is thrown after all are closed. */
  async close() {
    for (const stream of this.#reading) stream.destroy();
    const closed = await Promise.allSettled(this.#outputs.map((output) => output.close()));
    const failed = closed.find((result) => result.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }
}

/**
 * An object holding each table under its name and its position.
 * @template {{ readonly name: string }} T
 * @param {readonly T[]} tables
 * @returns {Readonly<Record<string, T>>}
 */
function byNameAndPosition(tables) {
  /** @type {Record<string, T>} */
  const keyed = {};
  tables.forEach((table, i) => {
    keyed[String(i)] = table;
    keyed[table.name] = table;
  });
  return Object.freeze(keyed);
}

/**
 * @param {TableFile} file
 * @param {Set<Readable>} reading
 * @returns {JavascriptInput}
 */
function tableInput(file, reading) {
  return Object.freeze({
    name: file.name,
    columns: file.columns,
    [Symbol.asyncIterator]: () => (file.format === 'binary' ? readBinaryRows(file, reading) : readRows(file, reading)),
    batches: (/** @type {{ size?: number } | undefined} */ options) => {
      const size = batchSize(file.name, options);
      return file.format === 'binary' ? readBinaryBatches(file, reading, size) : readBatches(file, reading, size);
    },
  });
}

/**
 * @param {string} table
 * @param {{ size?: number } | undefined} options
 * @returns {number}
 */
function batchSize(table, options) {
  const size = options?.size ?? DEFAULT_BATCH_SIZE;
  if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`batches() of input "${table}" takes a size that is a positive integer`);
  return size;
}

/**
 * pg's text parsers of a file's columns.
 * @param {TableFile} file
 */
function parsersOf(file) {
  return file.columns.map((column) => pg.types.getTypeParser(column.typeOid, 'text'));
}

/**
 * The lines of an input file, without their newlines, a chunk's worth at
 * a time (a line longer than a chunk is gathered in parts, so it costs its
 * length once), up to an end-of-data line.
 * @param {TableFile} file
 * @param {Set<Readable>} reading
 * @returns {AsyncGenerator<string[], void, undefined>}
 */
async function* linesOfFile(file, reading) {
  const handle = await open(file.path, 'r');
  const stream = handle.createReadStream({ encoding: 'utf8', highWaterMark: CHUNK_SIZE });
  reading.add(stream);
  try {
    /** @type {string[]} */
    let parts = [];
    for await (const piece of stream) {
      const chunk = /** @type {string} */ (piece);
      /** @type {string[]} */
      const lines = [];
      let start = 0;
      for (let end = chunk.indexOf('\n'); end !== -1; end = chunk.indexOf('\n', start)) {
        let line = chunk.slice(start, end);
        if (parts.length > 0) {
          parts.push(line);
          line = parts.join('');
          parts = [];
        }
        start = end + 1;
        if (line === END_OF_DATA) {
          yield lines;
          return;
        }
        lines.push(line);
      }
      if (start < chunk.length) parts.push(chunk.slice(start));
      if (lines.length > 0) yield lines;
    }
    const last = parts.join('');
    if (parts.length > 0 && last !== END_OF_DATA) yield [last];
  } finally {
    reading.delete(stream);
    stream.destroy();
  }
}

/**
 * The rows of an input file, decoded with pg's text parsers a chunk of
 * lines at a time; the iterator hands them out from that chunk, so a row
 * costs one settled promise, not a trip through nested generators.
 * @param {TableFile} file
 * @param {Set<Readable>} reading
 * @returns {AsyncIterator<Record<string, unknown>, void, undefined> & AsyncIterable<Record<string, unknown>>}
 */
function readRows(file, reading) {
  const decode = rowDecoder(file.columns.map((column) => column.name), parsersOf(file));
  const chunks = linesOfFile(file, reading);
  return rowIterator(chunks, decode);
}

/**
 * The rows of an input file as batches of columns, each chunk of lines
 * decoded straight into the batch being filled.
 * @param {TableFile} file
 * @param {Set<Readable>} reading
 * @param {number} size
 * @returns {AsyncGenerator<import('./javascript-messages.js').JavascriptBatch, void, undefined>}
 */
async function* readBatches(file, reading, size) {
  const decoder = batchDecoder(file.columns, parsersOf(file), size);
  for await (const lines of linesOfFile(file, reading)) {
    let from = 0;
    while (from < lines.length) {
      from = decoder.add(lines, from);
      if (decoder.full()) yield decoder.take();
    }
  }
  if (decoder.length() > 0) yield decoder.take();
}
