// @ts-check
/**
 * A writer of one INTO table's file, `ctx.outputs.y` of a javascript
 * segment (see javascript-tables.js). Plain JavaScript: it runs in the
 * segment's child process.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BinaryWriter, HEADER, TRAILER } from './javascript-copy-binary.js';
import { batchEncoder } from './javascript-copy-batches.js';
import { rowEncoder } from './javascript-copy-text.js';
import { binaryBatchEncoder, binaryRowEncoder } from './javascript-binary-rows.js';
import { binaryToText } from './javascript-binary-text.js';

/** @typedef {import('../segment-task.js').TableFile} TableFile */
/** @typedef {import('./javascript-messages.js').JavascriptOutput} JavascriptOutput */

/** Read and write in chunks of about this many bytes (characters, when writing text). */
export const CHUNK_SIZE = 64 * 1024;

/** Binary output is written in chunks of about this many bytes. */
const BINARY_CHUNK_SIZE = 256 * 1024;

/**
 * Writes one INTO table's file: rows are encoded into a buffer that is
 * written out whenever it holds a chunk, one write at a time. A file the
 * engine made binary (TableFile.format) stays binary while every value
 * has an exact binary field; at the first that has not (a string for a
 * timestamp, whose meaning PostgreSQL decides), what was written is
 * turned into COPY text and the rest is written as text, which the
 * engine tells by the file's first bytes.
 * @implements {JavascriptOutput}
 */
export class TableOutput {
  /** @type {import('node:fs/promises').FileHandle} */
  #handle;
  #file;
  /** @type {(row: unknown) => string} */
  #encode;
  /** @type {(batch: unknown) => { text: string, length: number }} */
  #encodeBatch;
  /** Binary rows not written out yet; undefined once the file is text. @type {BinaryWriter | undefined} */
  #binary;
  /** @type {((row: unknown, out: BinaryWriter) => boolean) | undefined} */
  #encodeBinary;
  /** @type {((batch: unknown, out: BinaryWriter) => number) | undefined} */
  #encodeBinaryBatch;
  #started = false;
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
    this.#file = file;
    this.#handle = handle;
    const table = `output "${file.name}"`;
    this.#encode = rowEncoder(table, file.columns);
    this.#encodeBatch = batchEncoder(table, file.columns);
    const binary = file.format === 'binary';
    this.#binary = binary ? new BinaryWriter() : undefined;
    this.#encodeBinary = binary ? binaryRowEncoder(table, file.columns) : undefined;
    this.#encodeBinaryBatch = binary ? binaryBatchEncoder(table, file.columns) : undefined;
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
    const binary = this.#binaryWriter();
    if (binary !== undefined) {
      const encode = /** @type {(row: unknown, out: BinaryWriter) => boolean} */ (this.#encodeBinary);
      if (encode(row, binary)) return this.#wrote(1);
      this.#toText();
    }
    this.#buffer += this.#encode(row);
    return this.#wrote(1);
  }

  /**
   * Encodes a batch of columns (see JavascriptBatch) synchronously, all or
   * nothing: a bad batch throws and writes no row of it.
   * @param {unknown} batch
   * @returns {Promise<void>}
   */
  writeBatch(batch) {
    if (this.#closed) throw new Error(`output "${this.name}" is closed: its segment has ended`);
    const binary = this.#binaryWriter();
    if (binary !== undefined) {
      const encode = /** @type {(batch: unknown, out: BinaryWriter) => number} */ (this.#encodeBinaryBatch);
      const length = encode(batch, binary);
      if (length >= 0) return this.#wrote(length);
      this.#toText();
    }
    const { text, length } = this.#encodeBatch(batch);
    this.#buffer += text;
    return this.#wrote(length);
  }

  async close() {
    this.#closed = true;
    try {
      if (this.#binary !== undefined && this.#started) this.#binary.bytes(TRAILER);
      this.#flush();
      await this.#written;
    } finally {
      await this.#handle.close();
    }
  }

  /** The binary buffer, its header written; undefined once the file is text. */
  #binaryWriter() {
    const binary = this.#binary;
    if (binary !== undefined && !this.#started) {
      binary.bytes(HEADER);
      this.#started = true;
    }
    return binary;
  }

  /**
   * @param {number} rows
   * @returns {Promise<void>}
   */
  #wrote(rows) {
    this.#rows += rows;
    const size = this.#binary === undefined ? this.#buffer.length : this.#binary.length;
    if (size >= (this.#binary === undefined ? CHUNK_SIZE : BINARY_CHUNK_SIZE)) this.#flush();
    return this.#written;
  }

  /**
   * Goes on in text: the binary written so far, and what is not written
   * yet, are turned into text first. The text is made in a file of the
   * segment's TMPDIR (a sandboxed process may write its output file, not
   * beside it), then copied over the output file.
   */
  #toText() {
    const pending = /** @type {BinaryWriter} */ (this.#binary).take();
    this.#binary = undefined;
    this.#written = this.#written.then(async () => {
      const scratch = path.join(tmpdir(), `procgate-output-${randomUUID()}.txt`);
      try {
        const text = await open(scratch, 'w', 0o600);
        try {
          const convert = binaryToText(this.#file.columns);
          for await (const chunk of createReadStream(this.#file.path)) {
            await text.write(convert(/** @type {Buffer} */ (chunk)));
          }
          await text.write(convert(pending));
        } finally {
          await text.close();
        }
        await this.#handle.close();
        this.#handle = await open(this.#file.path, 'w');
        for await (const chunk of createReadStream(scratch)) await this.#handle.write(/** @type {Buffer} */ (chunk));
      } finally {
        await rm(scratch, { force: true });
      }
    });
  }

  #flush() {
    let chunk;
    if (this.#binary === undefined) {
      if (this.#buffer === '') return;
      chunk = this.#buffer;
      this.#buffer = '';
    } else {
      if (this.#binary.length === 0) return;
      chunk = this.#binary.take();
    }
    this.#written = this.#written.then(async () => {
      await (typeof chunk === 'string' ? this.#handle.write(chunk) : this.#handle.write(chunk));
    });
  }
}
