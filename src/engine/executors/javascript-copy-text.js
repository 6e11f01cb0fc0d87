// @ts-check
/**
 * PostgreSQL's COPY text format (no header line), the format of the
 * javascript executor's table files: one row per line, fields separated
 * by tabs, `\N` for NULL, and backslash escapes for the characters that
 * would otherwise end a field or a line. Plain JavaScript, because the
 * javascript child process uses it (see javascript-child.js).
 *
 * Values are decoded with pg's own text parsers, so a module sees what a
 * `pg` query would give it, and encoded so that a decoded row written back
 * loads unchanged.
 */

/** @typedef {import('../segment-task.js').TableColumn} TableColumn */
/** @typedef {(text: string) => unknown} TypeParser */

export const NULL_FIELD = '\\N';

/** A line holding only this ends the data (COPY accepts it; COPY TO does not write it). */
export const END_OF_DATA = '\\.';

/** @type {Readonly<Record<string, string>>} */
const UNESCAPED = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/** @type {Readonly<Record<string, string>>} */
const ESCAPED = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/**
 * A field with COPY's escapes resolved: `\b \f \n \r \t \v`, octal
 * `\ooo` and hex `\xhh` character codes, and a backslash before any other
 * character standing for that character.
 * @param {string} field
 * @returns {string}
 */
export function unescapeField(field) {
  if (!field.includes('\\')) return field;
  return field.replace(
    /\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|([\s\S]))/g,
    /** @type {(match: string, octal?: string, hex?: string, char?: string) => string} */
    (_match, octal, hex, char) => {
      if (octal !== undefined) return String.fromCharCode(parseInt(octal, 8));
      if (hex !== undefined) return String.fromCharCode(parseInt(hex, 16));
      const escaped = /** @type {string} */ (char);
      return UNESCAPED[escaped] ?? escaped;
    },
  );
}

/**
 * A field's text with the characters COPY reads as structure escaped:
 * backslash, tab, newline and carriage return.
 * @param {string} text
 * @returns {string}
 */
export function escapeField(text) {
  return text.replace(/[\\\t\n\r]/g, (char) => ESCAPED[char] ?? char);
}

/**
 * One line of an input file as a row object, each field decoded by its
 * column's parser.
 * @param {string} line
 * @param {readonly string[]} names
 * @param {readonly TypeParser[]} parsers
 * @returns {Record<string, unknown>}
 */
export function decodeRow(line, names, parsers) {
  // A row of a table without columns is an empty line, not one empty field.
  const fields = names.length === 0 ? [] : line.split('\t');
  if (fields.length !== names.length) {
    throw new Error(`a row with ${String(fields.length)} fields where ${String(names.length)} columns were expected`);
  }
  // fromEntries makes own properties, so a column named __proto__ is a column like any other.
  return Object.fromEntries(
    names.map((name, i) => {
      const field = /** @type {string} */ (fields[i]);
      return [name, field === NULL_FIELD ? null : /** @type {TypeParser} */ (parsers[i])(unescapeField(field))];
    }),
  );
}

/**
 * decodeRow for a file's columns, made once: builds the row with a loop
 * (a column named __proto__ is still an own property).
 * @param {readonly string[]} names
 * @param {readonly TypeParser[]} parsers
 * @returns {(line: string) => Record<string, unknown>}
 */
export function rowDecoder(names, parsers) {
  if (names.includes('__proto__')) return (line) => decodeRow(line, names, parsers);
  const count = names.length;
  return (line) => {
    const fields = count === 0 ? [] : line.split('\t');
    if (fields.length !== count) {
      throw new Error(`a row with ${String(fields.length)} fields where ${String(count)} columns were expected`);
    }
    /** @type {Record<string, unknown>} */
    const row = {};
    for (let i = 0; i < count; i += 1) {
      const field = /** @type {string} */ (fields[i]);
      row[/** @type {string} */ (names[i])] =
        field === NULL_FIELD ? null : /** @type {TypeParser} */ (parsers[i])(field.includes('\\') ? unescapeField(field) : field);
    }
    return row;
  };
}

/**
 * Turns rows into lines of an output file with the given columns. A row is
 * an object by column name (a missing column is NULL, an unknown key a
 * TypeError) or an array by position (missing trailing values are NULL).
 * @param {string} table for messages
 * @param {readonly TableColumn[]} columns
 * @returns {(row: unknown) => string} the row's line, newline included
 */
export function rowEncoder(table, columns) {
  const positions = new Map(columns.map((column, i) => [column.name, i]));
  const encoders = columns.map((column) => fieldEncoder(column.typeOid));
  return (row) => {
    const values = Array.isArray(row)
      ? valuesByPosition(table, row, columns.length)
      : valuesByName(table, row, positions);
    let line = '';
    for (let i = 0; i < encoders.length; i += 1) {
      line += (i === 0 ? '' : '\t') + /** @type {(value: unknown) => string} */ (encoders[i])(values[i]);
    }
    return `${line}\n`;
  };
}

/**
 * @param {string} table
 * @param {readonly unknown[]} row
 * @param {number} count
 * @returns {readonly unknown[]}
 */
export function valuesByPosition(table, row, count) {
  if (row.length > count) {
    throw new TypeError(`a row of ${String(row.length)} values for ${table}, which has ${String(count)} columns`);
  }
  return row;
}

/**
 * @param {string} table
 * @param {unknown} row
 * @param {ReadonlyMap<string, number>} positions
 * @returns {readonly unknown[]}
 */
export function valuesByName(table, row, positions) {
  if (typeof row !== 'object' || row === null) throw new TypeError(`a row for ${table} must be an object or an array`);
  /** @type {unknown[]} */
  const values = [];
  const record = /** @type {Record<string, unknown>} */ (row);
  for (const key of Object.keys(record)) {
    const position = positions.get(key);
    if (position === undefined) throw new TypeError(`${table} has no column "${key}"`);
    values[position] = record[key];
  }
  return values;
}

/**
 * How the values of a type become text where that depends on the type:
 * json/jsonb take any value as JSON (a JS array is a JSON array there),
 * and timestamp (without time zone) and date write a Date's local wall
 * clock, because pg reads those types into local time.
 * @typedef {'json' | 'timestamp' | 'date' | 'plain'} ValueStyle
 */

/** Types whose whole value is JSON. */
const JSON_TYPES = new Set([114, 3802]);

/** Styles of the other types that need one, arrays by their elements' style. @type {ReadonlyMap<number, ValueStyle>} */
const STYLES = new Map([
  [199, 'json'], // json[]
  [3807, 'json'], // jsonb[]
  [1114, 'timestamp'],
  [1115, 'timestamp'], // timestamp[]
  [1082, 'date'],
  [1182, 'date'], // date[]
]);

/**
 * @param {number} typeOid
 * @returns {(value: unknown) => string} the field for a value of the type
 */
export function fieldEncoder(typeOid) {
  /** @type {(value: unknown) => string} */
  const text = JSON_TYPES.has(typeOid) ? jsonText : (value) => valueText(value, STYLES.get(typeOid) ?? 'plain');
  return (value) => (value === null || value === undefined ? NULL_FIELD : escapeField(text(value)));
}

/**
 * The text of a value that is not null, as PostgreSQL reads it: strings
 * as they are, numbers and bigints by String, booleans as t/f, Dates as
 * ISO 8601 (see ValueStyle), bytes as `\x` hex, arrays as array literals,
 * objects with `toPostgres()` by it (as pg does for query parameters,
 * intervals for one) and other objects as JSON.
 * @param {unknown} value
 * @param {ValueStyle} style
 * @returns {string}
 */
export function valueText(value, style) {
  if (Array.isArray(value)) return arrayLiteral(value, style);
  if (style === 'json') return jsonText(value);
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'bigint':
      return String(value);
    case 'boolean':
      return value ? 't' : 'f';
    case 'object':
      return objectText(/** @type {object} */ (value), style);
    default:
      throw new TypeError(`a ${typeof value} cannot be written to a table`);
  }
}

/**
 * @param {object} value
 * @param {ValueStyle} style
 * @returns {string}
 */
function objectText(value, style) {
  if (value instanceof Date) return dateText(value, style);
  if (value instanceof Uint8Array) return `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
  if ('toPostgres' in value && typeof value.toPostgres === 'function') return String(value.toPostgres());
  return jsonText(value);
}

/**
 * @param {Date} date
 * @param {ValueStyle} style
 * @returns {string}
 */
function dateText(date, style) {
  if (Number.isNaN(date.getTime())) throw new RangeError('an invalid Date cannot be written to a table');
  if (style === 'plain') return date.toISOString();
  const pad = (/** @type {number} */ n, width = 2) => String(n).padStart(width, '0');
  const day = `${pad(date.getFullYear(), 4)}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  if (style === 'date') return day;
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
  return `${day} ${time}`;
}

/**
 * @param {unknown} value
 * @returns {string}
 */
export function jsonText(value) {
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError(`a ${typeof value} has no JSON text`);
  return json;
}

/**
 * A PostgreSQL array literal: nested arrays are dimensions, null and
 * undefined NULL, and every other element is quoted, which PostgreSQL
 * accepts for any element type.
 * @param {readonly unknown[]} values
 * @param {ValueStyle} style
 * @returns {string}
 */
function arrayLiteral(values, style) {
  const elements = values.map((value) => {
    if (value === null || value === undefined) return 'NULL';
    if (Array.isArray(value)) return arrayLiteral(value, style);
    return `"${valueText(value, style).replace(/["\\]/g, '\\$&')}"`;
  });
  return `{${elements.join(',')}}`;
}
