// @ts-check
/**
 * How JavaScript values are written as binary COPY fields, type by type
 * (see javascript-binary-values.js). An encoder writes a value only when
 * its field is exactly what PostgreSQL would make of the value's COPY
 * text (see javascript-copy-text.js); for any other value (a string for a
 * timestamp, say, whose meaning PostgreSQL decides) it writes nothing and
 * returns false, and the output goes on in text (see TableOutput). Plain
 * JavaScript, because the javascript child process uses it.
 */
import { writeNumeric } from './javascript-binary-numbers.js';
import { EPOCH_2000_MS, wallClockMs, writeTimestamp } from './javascript-binary-times.js';
import { jsonText, valueText } from './javascript-copy-text.js';

/** @typedef {import('./javascript-copy-binary.js').BinaryWriter} BinaryWriter */
/** @typedef {(value: unknown, out: BinaryWriter) => boolean} FieldEncoder */

const INTEGER_TEXT = /^[+-]?\d{1,20}$/;

/**
 * A whole number within [min, max] from a number, a bigint or decimal digits; undefined otherwise.
 * @param {unknown} value
 * @param {number} min
 * @param {number} max
 * @returns {number | undefined}
 */
function integerOf(value, min, max) {
  let number;
  if (typeof value === 'number') number = value;
  else if (typeof value === 'bigint') number = value >= BigInt(min) && value <= BigInt(max) ? Number(value) : undefined;
  else if (typeof value === 'string' && INTEGER_TEXT.test(value)) number = Number(value);
  return number !== undefined && Number.isInteger(number) && number >= min && number <= max ? number : undefined;
}

/**
 * @param {number} min
 * @param {number} max
 * @param {2 | 4} size
 * @returns {FieldEncoder}
 */
function integer(min, max, size) {
  return (value, out) => {
    const number = integerOf(value, min, max);
    if (number === undefined) return false;
    out.ensure(4 + size);
    out.int32(size);
    if (size === 2) out.int16(number);
    else if (min < 0) out.int32(number);
    else {
      out.buffer.writeUInt32BE(number, out.length);
      out.length += 4;
    }
    return true;
  };
}

const INT8_MIN = -(2n ** 63n);
const INT8_MAX = 2n ** 63n - 1n;

/** Decimal text of at most 15 digits: a safe integer, written without a BigInt. */
const SAFE_INTEGER_TEXT = /^[+-]?\d{1,15}$/;

/** @type {FieldEncoder} */
function int8(value, out) {
  let safe;
  if (typeof value === 'number' && Number.isSafeInteger(value)) safe = value;
  else if (typeof value === 'string' && value.length <= 16 && SAFE_INTEGER_TEXT.test(value)) safe = Number(value);
  if (safe !== undefined) {
    const high = Math.floor(safe / 4_294_967_296);
    out.ensure(12);
    out.int32(8);
    out.int32(high);
    out.buffer.writeUInt32BE(safe - high * 4_294_967_296, out.length);
    out.length += 4;
    return true;
  }
  let big;
  if (typeof value === 'bigint') big = value;
  // A number is written as its decimal text: beyond 2^53 that may differ from its exact value.
  else if (typeof value === 'number' && Number.isInteger(value) && Math.abs(value) < 1e21) big = BigInt(String(value));
  else if (typeof value === 'string' && INTEGER_TEXT.test(value)) big = BigInt(value);
  if (big === undefined || big < INT8_MIN || big > INT8_MAX) return false;
  out.ensure(12);
  out.int32(8);
  out.buffer.writeBigInt64BE(big, out.length);
  out.length += 8;
  return true;
}

/** @type {FieldEncoder} */
function float4(value, out) {
  if (typeof value !== 'number') return false;
  const single = Math.fround(value);
  // A double halfway between two float4s: PostgreSQL rounds its decimal text, which may fall either side.
  if (single !== value && !Number.isNaN(value) && Math.fround(2 * value - single) === 2 * value - single) return false;
  // Beyond float4's range PostgreSQL refuses the value.
  if ((single === 0 && value !== 0) || (!Number.isFinite(single) && Number.isFinite(value))) return false;
  out.ensure(8);
  out.int32(4);
  out.buffer.writeFloatBE(single, out.length);
  out.length += 4;
  return true;
}

/** @type {FieldEncoder} */
function float8(value, out) {
  if (typeof value !== 'number') return false;
  out.ensure(12);
  out.int32(8);
  out.buffer.writeDoubleBE(value, out.length);
  out.length += 8;
  return true;
}

/** @type {FieldEncoder} */
function bool(value, out) {
  let truth;
  if (typeof value === 'boolean') truth = value;
  else if (value === 1 || value === 0) truth = value === 1;
  else return false;
  out.ensure(5);
  out.int32(1);
  out.buffer[out.length] = truth ? 1 : 0;
  out.length += 1;
  return true;
}

/** @type {FieldEncoder} */
function bytea(value, out) {
  if (!(value instanceof Uint8Array)) return false;
  out.ensure(4 + value.length);
  out.int32(value.length);
  out.bytes(value);
  return true;
}

/** @type {FieldEncoder} */
function text(value, out) {
  out.text(valueText(value, 'plain'));
  return true;
}

/** @type {FieldEncoder} */
function name(value, out) {
  const string = valueText(value, 'plain');
  // name_in cuts a longer name to 63 bytes, name_recv refuses it.
  if (Buffer.byteLength(string) >= 64) return false;
  out.text(string);
  return true;
}

/** @type {FieldEncoder} */
function json(value, out) {
  out.text(jsonText(value));
  return true;
}

/** @type {FieldEncoder} */
function jsonb(value, out) {
  const string = jsonText(value);
  out.ensure(5 + string.length * 3);
  const written = out.buffer.write(string, out.length + 5, 'utf8');
  out.int32(written + 1);
  out.buffer[out.length] = 1;
  out.length += 1 + written;
  return true;
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** @type {FieldEncoder} */
function uuid(value, out) {
  if (typeof value !== 'string' || !UUID.test(value)) return false;
  out.ensure(20);
  out.int32(16);
  out.length += out.buffer.write(value.replaceAll('-', ''), out.length, 'hex');
  return true;
}

/** @type {FieldEncoder} */
function numeric(value, out) {
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'string') return writeNumeric(String(value), out);
  return false;
}

/**
 * The infinities of the date/time types (a module gets them as ±Infinity).
 * @param {unknown} value
 * @param {BinaryWriter} out
 * @param {boolean} day a date (4 bytes), not a timestamp
 */
function infinity(value, out, day) {
  if (value !== Infinity && value !== -Infinity) return false;
  out.ensure(12);
  out.int32(day ? 4 : 8);
  if (day) out.int32(value > 0 ? 0x7fffffff : -0x80000000);
  else {
    out.int32(value > 0 ? 0x7fffffff : -0x80000000);
    out.int32(value > 0 ? -1 : 0);
  }
  return true;
}

const validDate = (/** @type {unknown} */ value) => value instanceof Date && !Number.isNaN(value.getTime());

/** @type {FieldEncoder} */
function timestamptz(value, out) {
  if (!validDate(value)) return infinity(value, out, false);
  writeTimestamp(/** @type {Date} */ (value).getTime(), out);
  return true;
}

/** @type {FieldEncoder} */
function timestamp(value, out) {
  if (!validDate(value)) return infinity(value, out, false);
  writeTimestamp(wallClockMs(/** @type {Date} */ (value)), out);
  return true;
}

/** @type {FieldEncoder} */
function date(value, out) {
  if (!validDate(value)) return infinity(value, out, true);
  const local = /** @type {Date} */ (value);
  const midnight = new Date(0);
  midnight.setUTCFullYear(local.getFullYear(), local.getMonth(), local.getDate());
  out.ensure(8);
  out.int32(4);
  out.int32((midnight.getTime() - EPOCH_2000_MS) / 86_400_000);
  return true;
}

/** @type {ReadonlyMap<number, FieldEncoder>} */
const ENCODERS = new Map(/** @type {[number, FieldEncoder][]} */ ([
  [16, bool],
  [17, bytea],
  [19, name],
  [20, int8],
  [21, integer(-32768, 32767, 2)],
  [23, integer(-2147483648, 2147483647, 4)],
  [25, text],
  [26, integer(0, 4294967295, 4)],
  [114, json],
  [700, float4],
  [701, float8],
  [1042, text],
  [1043, text],
  [1082, date],
  [1114, timestamp],
  [1184, timestamptz],
  [1700, numeric],
  [2950, uuid],
  [3802, jsonb],
]));

/**
 * @param {number} typeOid
 * @returns {FieldEncoder | undefined}
 */
export function encoderOf(typeOid) {
  return ENCODERS.get(typeOid);
}
