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
import { decodeRow, END_OF_DATA, rowEncoder } from './javascript-copy-text.js';

/** @typedef {import('../segment-task.js').TableFile} TableFile */
/** @typedef {import('./javascript-messages.js').JavascriptInput} JavascriptInput */
/** @typedef {import('./javascript-messages.js').JavascriptOutput} JavascriptOutput */
/** @typedef {import('node:stream').Readable} Readable */

/** Read and write in chunks of about this many bytes (characters, when writing). */
const CHUNK_SIZE = 64 * 1024;

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
    [Symbol.asyncIterator]: () => readRows(file, reading),
  });
}

/**
 * The rows of an input file, decoded with pg's text parsers, one line at
 * a time.
 * @param {TableFile} file
 * @param {Set<Readable>} reading
 * @returns {AsyncGenerator<Record<string, unknown>, void, undefined>}
 */
async function* readRows(file, reading) {
  const names = file.columns.map((column) => column.name);
  const parsers = file.columns.map((column) => pg.types.getTypeParser(column.typeOid, 'text'));
  const handle = await open(file.path, 'r');
  const stream = handle.createReadStream({ encoding: 'utf8', highWaterMark: CHUNK_SIZE });
  reading.add(stream);
  try {
    for await (const line of linesOf(stream)) {
      if (line === END_OF_DATA) return;
      yield decodeRow(line, names, parsers);
    }
  } finally {
    reading.delete(stream);
    stream.destroy();
  }
}

/**
 * The lines of a text stream, without their newlines; a line longer than
 * a chunk is gathered in parts, so it costs its length once.
 * @param {AsyncIterable<string>} stream
 * @returns {AsyncGenerator<string, void, undefined>}
 */
async function* linesOf(stream) {
  /** @type {string[]} */
  let parts = [];
  for await (const chunk of stream) {
    let start = 0;
    for (let end = chunk.indexOf('\n'); end !== -1; end = chunk.indexOf('\n', start)) {
      parts.push(chunk.slice(start, end));
      yield parts.join('');
      parts = [];
      start = end + 1;
    }
    if (start < chunk.length) parts.push(chunk.slice(start));
  }
  if (parts.length > 0) yield parts.join('');
}

/**
 * Writes one INTO table's file: rows are encoded into a buffer that is
 * written out whenever it holds a chunk, one write at a time.
 * @implements {JavascriptOutput}
 */
class TableOutput {
  /** @type {import('node:fs/promises').FileHandle} */
  #handle;
  /** @type {(row: unknown) => string} */
  #encode;
  #buffer = '';
  #rows = 0;
  #closed = false;
  /** Settles when the last chunk handed to the file is written. @type {Promise<void>} */
  #written = Promise.resolve();

  /**
   * @param {TableFile} file
   * @param {import('node:fs/promises').FileHandle} handle
   */
  constructor(file, handle) {
    this.name = file.name;
    this.columns = file.columns;
    this.#handle = handle;
    this.#encode = rowEncoder(`output "${file.name}"`, file.columns);
  }

  get rowCount() {
    return this.#rows;
  }

  /**
   * Encodes synchronously, so a bad row throws at the call that wrote it;
   * the promise is the write under way, if any.
   * @param {unknown} row
   * @returns {Promise<void>}
   */
  write(row) {
    if (this.#closed) throw new Error(`output "${this.name}" is closed: its segment has ended`);
    this.#buffer += this.#encode(row);
    this.#rows += 1;
    if (this.#buffer.length >= CHUNK_SIZE) this.#flush();
    return this.#written;
  }

  async close() {
    this.#closed = true;
    try {
      this.#flush();
      await this.#written;
    } finally {
      await this.#handle.close();
    }
  }

  #flush() {
    if (this.#buffer === '') return;
    const chunk = this.#buffer;
    this.#buffer = '';
    this.#written = this.#written.then(async () => {
      await this.#handle.write(chunk);
    });
  }
}
