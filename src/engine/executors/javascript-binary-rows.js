// @ts-check
/**
 * Rows and batches of columns in binary COPY (javascript-copy-binary.js
 * frames the tuples, javascript-binary-values.js gives each type's
 * values): the same rows and batches as their text counterparts
 * (javascript-copy-text.js, javascript-copy-batches.js) give and take.
 * Numeric columns of a batch are filled by copying each field's bytes
 * into the typed array, without a value in between. Plain JavaScript,
 * because the javascript child process uses it.
 */
import { endianness } from 'node:os';
import { batchOf, batchParts } from './javascript-copy-batches.js';
import { valuesByName, valuesByPosition } from './javascript-copy-text.js';
import { binaryType } from './javascript-binary-values.js';

/** @typedef {import('../segment-task.js').TableColumn} TableColumn */
/** @typedef {import('./javascript-binary-values.js').BinaryType & { encode: FieldEncoder }} BinaryType */
/** @typedef {import('./javascript-binary-values.js').FieldEncoder} FieldEncoder */
/** @typedef {import('./javascript-copy-binary.js').BinaryWriter} BinaryWriter */
/** @typedef {import('./javascript-binary-values.js').TypedArrayType} TypedArrayType */
/** @typedef {import('./javascript-messages.js').JavascriptBatch} JavascriptBatch */

/** Typed arrays hold numbers in the machine's byte order; COPY's are big-endian. */
const SWAP = endianness() === 'LE';

/**
 * Copies a number of `width` bytes between COPY's byte order and a typed array's.
 * @param {Uint8Array} from
 * @param {number} fromAt
 * @param {Uint8Array} to
 * @param {number} toAt
 * @param {number} width
 */
function copyNumber(from, fromAt, to, toAt, width) {
  if (!SWAP) {
    to.set(from.subarray(fromAt, fromAt + width), toAt);
    return;
  }
  for (let k = 0; k < width; k += 1) to[toAt + k] = /** @type {number} */ (from[fromAt + width - 1 - k]);
}

/**
 * @param {readonly TableColumn[]} columns
 * @returns {BinaryType[]}
 */
function typesOf(columns) {
  return columns.map((column) => {
    const type = binaryType(column.typeOid);
    if (type === undefined) throw new Error(`column "${column.name}" of type ${column.type} has no binary form here`);
    return type;
  });
}

/**
 * A tuple (see TupleReader) as a row object.
 * @param {readonly TableColumn[]} columns
 * @returns {(buffer: Buffer, starts: Int32Array, lengths: Int32Array) => Record<string, unknown>}
 */
export function binaryRowDecoder(columns) {
  const decoders = typesOf(columns).map((type) => type.decode);
  const names = columns.map((column) => column.name);
  const count = names.length;
  const special = names.includes('__proto__');
  return (buffer, starts, lengths) => {
    /** @type {Record<string, unknown>} */
    const row = {};
    for (let c = 0; c < count; c += 1) {
      const length = /** @type {number} */ (lengths[c]);
      const decoder = /** @type {import('./javascript-binary-values.js').FieldDecoder} */ (decoders[c]);
      const value = length < 0 ? null : decoder(buffer, /** @type {number} */ (starts[c]), length);
      const name = /** @type {string} */ (names[c]);
      if (special) Object.defineProperty(row, name, { value, enumerable: true, writable: true, configurable: true });
      else row[name] = value;
    }
    return row;
  };
}

/**
 * Fills batches of up to `size` rows from tuples, as batchDecoder does
 * from lines: a typed array per numeric column, an array of the row API's
 * values for the others, a Uint8Array per column with 1 where it is NULL.
 * @param {readonly TableColumn[]} columns
 * @param {number} size
 */
export function binaryBatchDecoder(columns, size) {
  const types = typesOf(columns);
  const count = columns.length;
  /** @type {ArrayLike<unknown>[]} */
  let values = [];
  /** Each typed column's bytes. @type {(Uint8Array | undefined)[]} */
  let bytes = [];
  /** @type {Uint8Array[]} */
  let nulls = [];
  let length = 0;
  const start = () => {
    values = types.map((type) => (type.typed === undefined ? new Array(size) : new type.typed(size)));
    bytes = values.map((column) => (ArrayBuffer.isView(column) ? new Uint8Array(column.buffer) : undefined));
    nulls = types.map(() => new Uint8Array(size));
    length = 0;
  };
  start();
  return {
    full: () => length === size,
    length: () => length,
    /**
     * @param {Buffer} buffer
     * @param {Int32Array} starts
     * @param {Int32Array} lengths
     */
    add(buffer, starts, lengths) {
      for (let c = 0; c < count; c += 1) {
        const fieldLength = /** @type {number} */ (lengths[c]);
        const target = bytes[c];
        if (fieldLength < 0) {
          /** @type {Uint8Array} */ (nulls[c])[length] = 1;
          if (target === undefined) /** @type {unknown[]} */ (values[c])[length] = null;
        } else if (target === undefined) {
          const type = /** @type {BinaryType} */ (types[c]);
          const column = /** @type {unknown[]} */ (values[c]);
          column[length] = type.decode(buffer, /** @type {number} */ (starts[c]), fieldLength);
        } else copyNumber(buffer, /** @type {number} */ (starts[c]), target, length * fieldLength, fieldLength);
      }
      length += 1;
    },
    /** @returns {JavascriptBatch} the batch filled so far; the next starts empty */
    take() {
      const batch = batchOf(columns, values, nulls, length, size);
      start();
      return batch;
    },
  };
}

/**
 * Writes rows (objects by column name or arrays by position, as
 * rowEncoder takes them) as tuples. False: a value has no exact binary
 * field (see javascript-binary-encoders.js); nothing of the row is left
 * written.
 * @param {string} table for messages
 * @param {readonly TableColumn[]} columns
 * @returns {(row: unknown, out: BinaryWriter) => boolean}
 */
export function binaryRowEncoder(table, columns) {
  const encoders = typesOf(columns).map((type) => type.encode);
  const positions = new Map(columns.map((column, i) => [column.name, i]));
  const count = columns.length;
  return (row, out) => {
    const values = Array.isArray(row) ? valuesByPosition(table, row, count) : valuesByName(table, row, positions);
    const mark = out.length;
    out.ensure(2 + count * 4);
    out.int16(count);
    for (let c = 0; c < count; c += 1) {
      const value = values[c];
      if (value === null || value === undefined) {
        out.ensure(4);
        out.int32(-1);
      } else if (!(/** @type {FieldEncoder} */ (encoders[c])(value, out))) {
        out.length = mark;
        return false;
      }
    }
    return true;
  };
}

/**
 * Writes batches of columns (see batchParts) as tuples, all or nothing.
 * Returns the rows written, or -1 when a value has no exact binary field
 * (nothing of the batch is left written).
 * @param {string} table for messages
 * @param {readonly TableColumn[]} columns
 * @returns {(batch: unknown, out: BinaryWriter) => number}
 */
export function binaryBatchEncoder(table, columns) {
  const parts = batchParts(table, columns);
  const types = typesOf(columns);
  const encoders = types.map((type) => type.encode);
  const count = columns.length;
  return (batch, out) => {
    const { length, values, masks } = parts(batch);
    // A column in its type's own typed array is copied byte by byte, without a value in between.
    const raw = values.map((column, c) => {
      const typed = /** @type {BinaryType} */ (types[c]).typed;
      if (typed === undefined || !(column instanceof typed)) return undefined;
      return new Uint8Array(column.buffer, column.byteOffset, column.byteLength);
    });
    const mark = out.length;
    for (let row = 0; row < length; row += 1) {
      out.ensure(2 + count * 4);
      out.int16(count);
      for (let c = 0; c < count; c += 1) {
        const column = values[c];
        const bytes = raw[c];
        if (column === undefined || (masks[c]?.[row] ?? false)) {
          out.ensure(4);
          out.int32(-1);
          continue;
        }
        if (bytes !== undefined) {
          const width = /** @type {TypedArrayType} */ (/** @type {BinaryType} */ (types[c]).typed).BYTES_PER_ELEMENT;
          out.ensure(4 + width);
          out.int32(width);
          copyNumber(bytes, row * width, out.buffer, out.length, width);
          out.length += width;
          continue;
        }
        const value = column[row];
        if (value === null || value === undefined) {
          out.ensure(4);
          out.int32(-1);
        } else if (!(/** @type {FieldEncoder} */ (encoders[c])(value, out))) {
          out.length = mark;
          return -1;
        }
      }
    }
    return length;
  };
}
