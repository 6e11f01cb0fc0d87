// @ts-check
/**
 * A writer of one INTO table's file, `ctx.outputs.y` of a javascript
 * segment (see javascript-tables.js). Plain JavaScript: it runs in the
 * segment's child process.
 */
import { batchEncoder } from './javascript-copy-batches.js';
import { rowEncoder } from './javascript-copy-text.js';

/** @typedef {import('../segment-task.js').TableFile} TableFile */
/** @typedef {import('./javascript-messages.js').JavascriptOutput} JavascriptOutput */

/** Read and write in chunks of about this many bytes (characters, when writing). */
export const CHUNK_SIZE = 64 * 1024;

/**
 * Writes one INTO table's file: rows are encoded into a buffer that is
 * written out whenever it holds a chunk, one write at a time.
 * @implements {JavascriptOutput}
 */
export class TableOutput {
  /** @type {import('node:fs/promises').FileHandle} */
  #handle;
  /** @type {(row: unknown) => string} */
  #encode;
  /** @type {(batch: unknown) => { text: string, length: number }} */
  #encodeBatch;
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
    this.#encodeBatch = batchEncoder(`output "${file.name}"`, file.columns);
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

  /**
   * Encodes a batch of columns (see JavascriptBatch) synchronously, all or
   * nothing: a bad batch throws and writes no row of it.
   * @param {unknown} batch
   * @returns {Promise<void>}
   */
  writeBatch(batch) {
    if (this.#closed) throw new Error(`output "${this.name}" is closed: its segment has ended`);
    const { text, length } = this.#encodeBatch(batch);
    this.#buffer += text;
    this.#rows += length;
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
