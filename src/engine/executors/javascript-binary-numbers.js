// @ts-check
/**
 * The binary form of numeric, which takes arithmetic: base-10000 digits to
 * and from decimal text (the date/time types: javascript-binary-times.js).
 * Plain JavaScript, because the javascript child process uses it.
 */

/**
 * The decimal text of a safe integer: String() of one beyond 2^31 goes the
 * long way of a double's digits; two halves of nine digits each are
 * printed four times as fast.
 * @param {number} value
 */
export function integerText(value) {
  if (value < 1e9 && value > -1e9) return String(value);
  const magnitude = value < 0 ? -value : value;
  const high = Math.floor(magnitude / 1e9);
  return `${value < 0 ? '-' : ''}${String(high)}${String(magnitude - high * 1e9).padStart(9, '0')}`;
}

const NUMERIC_NEGATIVE = 0x4000;
const NUMERIC_NAN = 0xc000;
const NUMERIC_INFINITY = 0xd000;
const NUMERIC_NEGATIVE_INFINITY = 0xf000;

/**
 * numeric's binary form as PostgreSQL prints it (numeric_out): NaN,
 * Infinity, or digits with exactly the value's display scale.
 * @param {Buffer} buffer
 * @param {number} start
 * @returns {string}
 */
export function numericText(buffer, start) {
  const b = buffer;
  const ndigits = (b[start] ?? 0) << 8 | (b[start + 1] ?? 0);
  const weight = (((b[start + 2] ?? 0) << 24) >> 16) | (b[start + 3] ?? 0);
  const sign = (b[start + 4] ?? 0) << 8 | (b[start + 5] ?? 0);
  const dscale = (b[start + 6] ?? 0) << 8 | (b[start + 7] ?? 0);
  if (sign === NUMERIC_NAN) return 'NaN';
  if (sign === NUMERIC_INFINITY) return 'Infinity';
  if (sign === NUMERIC_NEGATIVE_INFINITY) return '-Infinity';
  const digit = (/** @type {number} */ i) =>
    i >= 0 && i < ndigits ? ((b[start + 8 + i * 2] ?? 0) << 8) | (b[start + 9 + i * 2] ?? 0) : 0;
  let text = sign === NUMERIC_NEGATIVE ? '-' : '';
  if (weight < 0) text += '0';
  else if (weight <= 2) {
    // Up to 12 digits: exact in a double, printed at once.
    let whole = 0;
    for (let i = 0; i <= weight; i += 1) whole = whole * 10_000 + digit(i);
    text += integerText(whole);
  } else {
    text += String(digit(0));
    for (let i = 1; i <= weight; i += 1) text += String(digit(i)).padStart(4, '0');
  }
  if (dscale > 0 && dscale <= 12) {
    const groups = Math.ceil(dscale / 4);
    let fraction = 0;
    for (let i = 0; i < groups; i += 1) fraction = fraction * 10_000 + digit(weight + 1 + i);
    const digits = integerText(fraction).padStart(groups * 4, '0');
    text += `.${digits.length === dscale ? digits : digits.slice(0, dscale)}`;
  } else if (dscale > 0) {
    let fraction = '';
    for (let i = weight + 1; fraction.length < dscale; i += 1) fraction += String(digit(i)).padStart(4, '0');
    text += `.${fraction.slice(0, dscale)}`;
  }
  return text;
}

/** Decimal text numeric_in reads the same way: sign, digits with an optional point, an optional exponent. */
const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,4}))?$/;

/**
 * Writes the binary form of the numeric that numeric_in makes of `text`
 * (its display scale included), when `text` is plain decimal, NaN or
 * [-]Infinity.
 * @param {string} text
 * @param {import('./javascript-copy-binary.js').BinaryWriter} out
 * @returns {boolean} false: not text this reads (numeric_in may still)
 */
export function writeNumeric(text, out) {
  return writePlainNumeric(text, out) || writeAnyNumeric(text, out);
}

/** Base-10000 digits of the numeric being written. */
const groups = new Int16Array(0x8000);

/**
 * writeNumeric of digits with an optional sign and point (no exponent),
 * read in one pass, as numeric_in gives them: false for anything else.
 * @param {string} text
 * @param {import('./javascript-copy-binary.js').BinaryWriter} out
 */
function writePlainNumeric(text, out) {
  const end = text.length;
  const first = text.charCodeAt(0);
  const from = first === 45 || first === 43 ? 1 : 0;
  const point = text.indexOf('.', from);
  const wholeEnd = point < 0 ? end : point;
  const whole = wholeEnd - from;
  const fraction = point < 0 ? 0 : end - point - 1;
  if (whole + fraction === 0 || whole + fraction > 4 * 0x7000 || fraction > 0x3fff) return false;
  // Digits are grouped by fours from the point: the first group of the whole part may be short, so the
  // whole part ends on a group's end and the fraction's groups start at the point.
  let count = 0;
  let group = 0;
  let size = whole % 4 === 0 ? 4 : whole % 4;
  for (let i = from; i < end; i += 1) {
    if (i === point) continue;
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return false;
    group = group * 10 + digit;
    size -= 1;
    if (size === 0) {
      groups[count++] = group;
      group = 0;
      size = 4;
    }
  }
  if (size < 4) groups[count++] = group * 10 ** size;
  const wholeGroups = Math.ceil(whole / 4);
  let lead = 0;
  while (lead < count && groups[lead] === 0) lead += 1;
  while (count > lead && groups[count - 1] === 0) count -= 1;
  const ndigits = count - lead;
  const weight = ndigits === 0 ? 0 : wholeGroups - 1 - lead;
  out.ensure(12 + ndigits * 2);
  out.int32(8 + ndigits * 2);
  out.int16(ndigits);
  out.int16(weight);
  out.buffer.writeUInt16BE(first === 45 && ndigits > 0 ? NUMERIC_NEGATIVE : 0, out.length);
  out.length += 2;
  out.int16(fraction);
  for (let i = lead; i < count; i += 1) out.int16(/** @type {number} */ (groups[i]));
  return true;
}

/**
 * writeNumeric of any text DECIMAL matches, NaN and the infinities.
 * @param {string} text
 * @param {import('./javascript-copy-binary.js').BinaryWriter} out
 */
function writeAnyNumeric(text, out) {
  if (text === 'NaN' || text === 'Infinity' || text === '-Infinity') {
    out.ensure(12);
    out.int32(8);
    out.int32(0);
    out.buffer.writeUInt16BE(text === 'NaN' ? NUMERIC_NAN : text === 'Infinity' ? NUMERIC_INFINITY : NUMERIC_NEGATIVE_INFINITY, out.length);
    out.buffer.writeInt16BE(0, out.length + 2);
    out.length += 4;
    return true;
  }
  const match = DECIMAL.exec(text);
  if (match === null) return false;
  const whole = match[2] ?? '';
  const fraction = match[3] ?? '';
  if (whole === '' && fraction === '') return false;
  const exponent = match[4] === undefined ? 0 : Number(match[4]);
  if (Math.abs(exponent) > 1000) return false;
  const dscale = Math.max(0, fraction.length - exponent);
  let digits = whole + fraction;
  // The decimal exponent of the first digit.
  let first = whole.length + exponent - 1;
  let lead = 0;
  while (lead < digits.length && digits.charCodeAt(lead) === 48) lead += 1;
  digits = digits.slice(lead);
  first -= lead;
  let end = digits.length;
  while (end > 0 && digits.charCodeAt(end - 1) === 48) end -= 1;
  digits = digits.slice(0, end);
  /** @type {number[]} */
  const groups = [];
  let weight = 0;
  if (digits.length > 0) {
    weight = Math.floor(first / 4);
    const padded = '000'.slice(0, 3 - (first - weight * 4)) + digits;
    for (let i = 0; i < padded.length; i += 4) groups.push(Number(padded.slice(i, i + 4).padEnd(4, '0')));
  }
  if (groups.length > 0x7fff || dscale > 0x3fff || weight > 0x7fff || weight < -0x8000) return false;
  out.ensure(12 + groups.length * 2);
  out.int32(8 + groups.length * 2);
  out.int16(groups.length);
  out.int16(weight);
  out.buffer.writeUInt16BE(match[1] === '-' && groups.length > 0 ? NUMERIC_NEGATIVE : 0, out.length);
  out.length += 2;
  out.int16(dscale);
  for (const group of groups) out.int16(group);
  return true;
}
