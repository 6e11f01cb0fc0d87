// @ts-check
/**
 * Batches of columns in COPY text format (see javascript-copy-text.js for
 * the format and its rows): decoding a table file's lines straight into
 * typed arrays and arrays, and encoding such a batch back into lines, for
 * `ctx.inputs.x.batches()` and `ctx.outputs.y.writeBatch()`. Plain
 * JavaScript, because the javascript child process uses it.
 */
import { fieldEncoder, NULL_FIELD, unescapeField } from './javascript-copy-text.js';

/** @typedef {import('../segment-task.js').TableColumn} TableColumn */
/** @typedef {(text: string) => unknown} TypeParser */

/**
 * Typed arrays for the columns of these types in a batch: their values are
 * numbers (int8: BigInt), read with Number (BigInt) rather than pg's parser.
 * @typedef {new (length: number) => ArrayLike<unknown>} TypedArrayType
 * @type {ReadonlyMap<number, TypedArrayType>}
 */
const TYPED_ARRAYS = new Map(/** @type {[number, TypedArrayType][]} */ ([
  [21, Int16Array], // int2
  [23, Int32Array], // int4
  [26, Uint32Array], // oid
  [700, Float32Array], // float4
  [701, Float64Array], // float8
  [20, BigInt64Array], // int8
]));

/** @typedef {import('./javascript-messages.js').JavascriptBatch} JavascriptBatch */

/**
 * Fills batches of up to `size` rows from lines of an input file: each
 * column's values in a typed array (numeric types) or an array (the values
 * decodeRow gives), and a Uint8Array per column with 1 where it is NULL.
 * @param {readonly TableColumn[]} columns
 * @param {readonly TypeParser[]} parsers
 * @param {number} size
 */
export function batchDecoder(columns, parsers, size) {
  const count = columns.length;
  const types = columns.map((column) => TYPED_ARRAYS.get(column.typeOid));
  /** @type {ArrayLike<unknown>[]} */
  let values = [];
  /** @type {Uint8Array[]} */
  let nulls = [];
  let length = 0;
  const start = () => {
    values = types.map((Type) => (Type === undefined ? new Array(size) : new Type(size)));
    nulls = types.map(() => new Uint8Array(size));
    length = 0;
  };
  start();
  return {
    length: () => length,
    full: () => length === size,
    /**
     * Decodes lines from `from` until the batch is full or the lines end.
     * @param {readonly string[]} lines
     * @param {number} from
     * @returns {number} the first line not decoded
     */
    add(lines, from) {
      let i = from;
      for (; i < lines.length && length < size; i += 1) {
        const line = /** @type {string} */ (lines[i]);
        const fields = count === 0 ? [] : line.split('\t');
        if (fields.length !== count) {
          throw new Error(`a row with ${String(fields.length)} fields where ${String(count)} columns were expected`);
        }
        for (let c = 0; c < count; c += 1) {
          const field = /** @type {string} */ (fields[c]);
          const column = /** @type {unknown[]} */ (values[c]);
          if (field === NULL_FIELD) {
            /** @type {Uint8Array} */ (nulls[c])[length] = 1;
            if (types[c] === undefined) column[length] = null;
          } else if (types[c] === /** @type {unknown} */ (BigInt64Array)) column[length] = BigInt(field);
          else if (types[c] !== undefined) column[length] = Number(field);
          else column[length] = /** @type {TypeParser} */ (parsers[c])(field.includes('\\') ? unescapeField(field) : field);
        }
        length += 1;
      }
      return i;
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
 * The batch of the first `length` values of each column (of `size` made):
 * a full column goes as it is, a shorter one as a copy of its start.
 * @param {readonly TableColumn[]} columns
 * @param {unknown[]} values per column, an array or a typed array
 * @param {unknown[]} nulls per column, a Uint8Array mask
 * @param {number} length
 * @param {number} size
 * @returns {JavascriptBatch}
 */
export function batchOf(columns, values, nulls, length, size) {
  /** @type {Record<string, unknown>} */
  const byName = {};
  /** @type {Record<string, Uint8Array>} */
  const nullsByName = {};
  columns.forEach((column, c) => {
    const all = /** @type {Int32Array | unknown[]} */ (values[c]);
    const mask = /** @type {Uint8Array} */ (nulls[c]);
    ownProperty(byName, column.name, length === size ? all : all.slice(0, length));
    ownProperty(nullsByName, column.name, length === size ? mask : mask.slice(0, length));
  });
  return /** @type {JavascriptBatch} */ ({ length, columns: byName, nulls: nullsByName });
}

/**
 * Sets an own property, even one named __proto__.
 * @param {object} object
 * @param {string} name
 * @param {unknown} value
 */
function ownProperty(object, name, value) {
  Object.defineProperty(object, name, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Checks batches of columns for an output: a batch is
 * `{ length, columns: { name: values }, nulls?: { name: mask } }`: values an
 * array or a typed array of `length` values, a missing column NULL, a mask
 * (any array-like of `length`) truthy where the value is NULL.
 * @param {string} table for messages
 * @param {readonly TableColumn[]} columns
 * @returns {(batch: unknown) => BatchParts}
 */
export function batchParts(table, columns) {
  const positions = new Map(columns.map((column, i) => [column.name, i]));
  /**
   * @param {unknown} values
   * @param {string} what
   * @param {number} length
   * @returns {ArrayLike<unknown>}
   */
  const checked = (values, what, length) => {
    const arrayLike = Array.isArray(values) || (ArrayBuffer.isView(values) && !(values instanceof DataView));
    if (!arrayLike) throw new TypeError(`${what} of a batch for ${table} must be an array or a typed array`);
    const { length: count } = /** @type {ArrayLike<unknown>} */ (values);
    if (count !== length) {
      throw new RangeError(`${what} of a batch for ${table} has ${String(count)} values where the batch has ${String(length)} rows`);
    }
    return /** @type {ArrayLike<unknown>} */ (values);
  };
  /**
   * @param {unknown} object
   * @param {string} what
   * @param {number} length
   * @returns {(ArrayLike<unknown> | undefined)[]}
   */
  const byPosition = (object, what, length) => {
    /** @type {(ArrayLike<unknown> | undefined)[]} */
    const found = columns.map(() => undefined);
    if (object === undefined || object === null) return found;
    if (typeof object !== 'object') throw new TypeError(`the ${what} of a batch for ${table} must be an object by column name`);
    for (const [name, values] of Object.entries(object)) {
      const position = positions.get(name);
      if (position === undefined) throw new TypeError(`${table} has no column "${name}"`);
      const described = `${what === 'nulls' ? 'the nulls of ' : ''}column "${name}"`;
      if (values !== undefined && values !== null) found[position] = checked(values, described, length);
    }
    return found;
  };
  return (batch) => {
    if (typeof batch !== 'object' || batch === null) throw new TypeError(`a batch for ${table} must be an object { length, columns }`);
    /** @type {{ length?: unknown, columns?: unknown, nulls?: unknown }} */
    const { length, columns: given, nulls: givenNulls } = batch;
    if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) {
      throw new TypeError(`a batch for ${table} needs a length: a whole number of rows`);
    }
    if (typeof given !== 'object' || given === null) throw new TypeError(`a batch for ${table} needs columns: an object by column name`);
    const values = byPosition(given, 'columns', length);
    const masks = byPosition(givenNulls, 'nulls', length);
    return { length, values, masks, typed: values.map((column) => column !== undefined && ArrayBuffer.isView(column)) };
  };
}

/**
 * A batch checked: its columns and null masks by position (undefined:
 * none given), and which columns are typed arrays.
 * @typedef {{ length: number, values: (ArrayLike<unknown> | undefined)[], masks: (ArrayLike<unknown> | undefined)[], typed: boolean[] }} BatchParts
 */

/**
 * Turns batches of columns (see batchParts) into lines of an output file.
 * @param {string} table for messages
 * @param {readonly TableColumn[]} columns
 * @returns {(batch: unknown) => { text: string, length: number }}
 */
export function batchEncoder(table, columns) {
  const parts = batchParts(table, columns);
  const encoders = columns.map((column) => fieldEncoder(column.typeOid));
  return (batch) => {
    const { length, values, masks, typed } = parts(batch);
    let text = '';
    for (let row = 0; row < length; row += 1) {
      let line = '';
      for (let c = 0; c < encoders.length; c += 1) {
        if (c > 0) line += '\t';
        const column = values[c];
        if (column === undefined || (masks[c]?.[row] ?? false)) line += NULL_FIELD;
        else if (typed[c] === true) line += String(column[row]);
        else line += /** @type {(value: unknown) => string} */ (encoders[c])(column[row]);
      }
      text += `${line}\n`;
    }
    return { text, length };
  };
}
