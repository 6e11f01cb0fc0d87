// @ts-check
/**
 * The values of the types the javascript executor reads and writes in
 * binary COPY (see javascript-copy-binary.js): for each, how a field
 * decodes into the value pg's text parser gives for the same value (so a
 * module sees no difference between the formats), how it prints as COPY
 * text, and how a JavaScript value is written as a field. A column of any
 * other type makes its file text (binaryColumns). Plain JavaScript,
 * because the javascript child process uses it.
 */
import { encoderOf } from './javascript-binary-encoders.js';
import { integerText, numericText } from './javascript-binary-numbers.js';
import {
  dateText,
  DATE_INFINITY,
  DATE_NEGATIVE_INFINITY,
  localDate,
  localDay,
  timestampInfinity,
  timestampMs,
  timestampText,
} from './javascript-binary-times.js';

/** @typedef {import('../segment-task.js').TableColumn} TableColumn */
/** @typedef {(buffer: Buffer, start: number, length: number) => unknown} FieldDecoder */
/** @typedef {(buffer: Buffer, start: number, length: number) => string} FieldText */
/** @typedef {(value: unknown, out: import('./javascript-copy-binary.js').BinaryWriter) => boolean} FieldEncoder */

const int16 = (/** @type {Buffer} */ b, /** @type {number} */ s) => (((b[s] ?? 0) << 24) >> 16) | (b[s + 1] ?? 0);
const int32 = (/** @type {Buffer} */ b, /** @type {number} */ s) =>
  ((b[s] ?? 0) << 24) | ((b[s + 1] ?? 0) << 16) | ((b[s + 2] ?? 0) << 8) | (b[s + 3] ?? 0);
const uint32 = (/** @type {Buffer} */ b, /** @type {number} */ s) => int32(b, s) >>> 0;
/** Buffer's own utf8Slice, where there is one, spares toString's checks of its arguments (a third of a short field's cost). */
const utf8 =
  'utf8Slice' in Buffer.prototype
    ? (/** @type {Buffer} */ b, /** @type {number} */ s, /** @type {number} */ n) =>
        /** @type {Buffer & { utf8Slice(start: number, end: number): string }} */ (b).utf8Slice(s, s + n)
    : (/** @type {Buffer} */ b, /** @type {number} */ s, /** @type {number} */ n) => b.toString('utf8', s, s + n);

/**
 * int8 as pg gives it: decimal text.
 * @type {FieldText}
 */
const int8Text = (b, s) => {
  const high = int32(b, s);
  if (high >= -0x200000 && high < 0x200000) return integerText(high * 4_294_967_296 + uint32(b, s + 4));
  return b.readBigInt64BE(s).toString();
};

/**
 * float4 as pg gives it: the double of the shortest decimal that reads
 * back as the same float4, which is what PostgreSQL prints.
 * @param {number} value
 */
function shortestFloat4(value) {
  if (!Number.isFinite(value) || value === 0) return value;
  for (let precision = 1; precision < 9; precision += 1) {
    const shorter = Number(value.toPrecision(precision));
    if (Math.fround(shorter) === value) return shorter;
  }
  return Number(value.toPrecision(9));
}

/** @type {FieldDecoder} */
const timestamptz = (b, s) => {
  const high = int32(b, s);
  const low = uint32(b, s + 4);
  const infinity = timestampInfinity(high, low);
  return infinity === 0 ? new Date(timestampMs(high, low)) : infinity * Infinity;
};

/** @type {FieldDecoder} */
const timestamp = (b, s) => {
  const high = int32(b, s);
  const low = uint32(b, s + 4);
  const infinity = timestampInfinity(high, low);
  return infinity === 0 ? localDate(timestampMs(high, low)) : infinity * Infinity;
};

/** @type {FieldDecoder} */
const date = (b, s) => {
  const days = int32(b, s);
  if (days === DATE_INFINITY) return Infinity;
  if (days === DATE_NEGATIVE_INFINITY) return -Infinity;
  return localDay(days);
};

/** @type {FieldText} */
const uuidText = (b, s) => {
  const hex = b.toString('hex', s, s + 16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
};

/** @type {FieldText} */
const jsonbText = (b, s, n) => utf8(b, s + 1, n - 1);

/** @type {FieldText} */
const floatText = (b, s) => String(b.readDoubleBE(s));

/** @type {FieldText} */
const float4Text = (b, s) => String(b.readFloatBE(s));

/**
 * What each type's fields are: `decode` gives the row API's value,
 * `text` the field as COPY text would hold it (unescaped), `typed` the
 * typed array of a batch's column and its bytes per value.
 * @typedef {{ decode: FieldDecoder, text: FieldText, typed?: TypedArrayType }} BinaryType
 * @typedef {Int16ArrayConstructor | Int32ArrayConstructor | Uint32ArrayConstructor | Float32ArrayConstructor | Float64ArrayConstructor | BigInt64ArrayConstructor} TypedArrayType
 */

/** @type {BinaryType} */
const TEXT = { decode: utf8, text: utf8 };

/** @type {ReadonlyMap<number, BinaryType>} */
const TYPES = new Map(/** @type {[number, BinaryType][]} */ ([
  [16, { decode: (b, s) => b[s] !== 0, text: (b, s) => (b[s] !== 0 ? 't' : 'f') }], // bool
  [17, { decode: (b, s, n) => Buffer.from(b.subarray(s, s + n)), text: (b, s, n) => `\\x${b.toString('hex', s, s + n)}` }], // bytea
  [19, TEXT], // name
  [20, { decode: int8Text, text: int8Text, typed: BigInt64Array }], // int8
  [21, { decode: int16, text: (b, s) => String(int16(b, s)), typed: Int16Array }], // int2
  [23, { decode: int32, text: (b, s) => String(int32(b, s)), typed: Int32Array }], // int4
  [25, TEXT], // text
  [26, { decode: uint32, text: (b, s) => String(uint32(b, s)), typed: Uint32Array }], // oid
  [114, { decode: (b, s, n) => JSON.parse(utf8(b, s, n)), text: utf8 }], // json
  // float4
  [700, { decode: (b, s) => shortestFloat4(b.readFloatBE(s)), text: float4Text, typed: Float32Array }],
  [701, { decode: (b, s) => b.readDoubleBE(s), text: floatText, typed: Float64Array }], // float8
  [1042, TEXT], // bpchar
  [1043, TEXT], // varchar
  [1082, { decode: date, text: (b, s) => dateText(int32(b, s)) }], // date
  [1114, { decode: timestamp, text: (b, s) => timestampText(b, s, false) }], // timestamp
  [1184, { decode: timestamptz, text: (b, s) => timestampText(b, s, true) }], // timestamptz
  [1700, { decode: numericText, text: numericText }], // numeric
  [2950, { decode: uuidText, text: uuidText }], // uuid
  [3802, { decode: (b, s, n) => JSON.parse(jsonbText(b, s, n)), text: jsonbText }], // jsonb
]));

/**
 * The binary form of a type, or undefined when it has none here.
 * @param {number} typeOid
 * @returns {(BinaryType & { encode: FieldEncoder }) | undefined}
 */
export function binaryType(typeOid) {
  const type = TYPES.get(typeOid);
  const encode = encoderOf(typeOid);
  return type === undefined || encode === undefined ? undefined : { ...type, encode };
}

/**
 * Whether a file of these columns can be binary: every column's type has
 * a binary form here.
 * @param {readonly { readonly typeOid: number }[]} columns
 */
export function binaryColumns(columns) {
  return columns.every((column) => TYPES.has(column.typeOid) && encoderOf(column.typeOid) !== undefined);
}
