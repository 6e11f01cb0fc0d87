// @ts-check
/**
 * The binary forms of the date/time types, which take arithmetic: days and
 * microseconds since 2000-01-01 to and from calendar dates. Plain
 * JavaScript, because the javascript child process uses it.
 */

/** 2000-01-01, PostgreSQL's epoch, in ms since 1970. */
export const EPOCH_2000_MS = 946_684_800_000;
const DAY_MS = 86_400_000;

/** date's binary infinities. */
export const DATE_INFINITY = 0x7fffffff;
export const DATE_NEGATIVE_INFINITY = -0x80000000;

/**
 * The ms since 1970 of a timestamp's microseconds since 2000 (high and
 * low 32 bits), rounded down as pg's parser cuts a fraction of a ms.
 * @param {number} high signed
 * @param {number} low unsigned
 */
export function timestampMs(high, low) {
  return high * 4_294_967 + Math.floor((high * 296 + low) / 1000) + EPOCH_2000_MS;
}

/**
 * Is this timestamp infinity (1) or -infinity (-1)? 0: neither.
 * @param {number} high
 * @param {number} low
 */
export function timestampInfinity(high, low) {
  if (high === 0x7fffffff && low === 0xffffffff) return 1;
  if (high === -0x80000000 && low === 0) return -1;
  return 0;
}

/**
 * A Date at the local time whose wall clock is `ms`'s UTC one, as pg
 * reads a timestamp without time zone or a date (years 0 to 99 kept).
 * @param {number} ms
 */
export function localDate(ms) {
  const utc = new Date(ms);
  const year = utc.getUTCFullYear();
  const date = new Date(year, utc.getUTCMonth(), utc.getUTCDate());
  date.setHours(utc.getUTCHours(), utc.getUTCMinutes(), utc.getUTCSeconds(), utc.getUTCMilliseconds());
  if (year >= 0 && year < 100) date.setFullYear(year);
  return date;
}

/**
 * The ms since 1970 of the instant whose UTC wall clock is `date`'s local
 * one (how a Date is written to a timestamp without time zone).
 * @param {Date} date
 */
export function wallClockMs(date) {
  const utc = new Date(0);
  utc.setUTCFullYear(date.getFullYear(), date.getMonth(), date.getDate());
  utc.setUTCHours(date.getHours(), date.getMinutes(), date.getSeconds(), date.getMilliseconds());
  return utc.getTime();
}

/**
 * A Date at local midnight of a date's days since 2000-01-01.
 * @param {number} days
 */
export function localDay(days) {
  return localDate(days * DAY_MS + EPOCH_2000_MS);
}

/**
 * Writes a timestamp field of `ms` since 1970 (a whole number).
 * @param {number} ms
 * @param {import('./javascript-copy-binary.js').BinaryWriter} out
 */
export function writeTimestamp(ms, out) {
  const micros = (ms - EPOCH_2000_MS) * 1000;
  out.ensure(12);
  out.int32(8);
  if (Number.isSafeInteger(micros)) {
    const high = Math.floor(micros / 4_294_967_296);
    out.int32(high);
    out.buffer.writeUInt32BE(micros - high * 4_294_967_296, out.length);
    out.length += 4;
  } else {
    out.buffer.writeBigInt64BE(BigInt(ms - EPOCH_2000_MS) * 1000n, out.length);
    out.length += 8;
  }
}

/**
 * Year, month and day of days since 1970 in the proleptic Gregorian
 * calendar, beyond the range of Date.
 * @param {number} days
 * @returns {[number, number, number]}
 */
function civil(days) {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (month <= 2 ? 1 : 0), month, day];
}

const pad = (/** @type {number} */ n, width = 2) => String(n).padStart(width, '0');

/**
 * A date in PostgreSQL's ISO text (BC for years up to 0).
 * @param {number} daysSince1970
 */
function dayText(daysSince1970) {
  const [year, month, day] = civil(daysSince1970);
  return year > 0 ? `${pad(year, 4)}-${pad(month)}-${pad(day)}` : `${pad(1 - year, 4)}-${pad(month)}-${pad(day)} BC`;
}

/**
 * date's binary form as text date_in reads back.
 * @param {number} days since 2000-01-01
 */
export function dateText(days) {
  if (days === DATE_INFINITY) return 'infinity';
  if (days === DATE_NEGATIVE_INFINITY) return '-infinity';
  return dayText(days + 10_957);
}

/**
 * A timestamp's binary form as text the input function reads back, to the
 * microsecond; `zone` adds +00 (timestamptz).
 * @param {Buffer} buffer
 * @param {number} start
 * @param {boolean} zone
 */
export function timestampText(buffer, start, zone) {
  const infinity = timestampInfinity(buffer.readInt32BE(start), buffer.readUInt32BE(start + 4));
  if (infinity !== 0) return infinity > 0 ? 'infinity' : '-infinity';
  const micros = buffer.readBigInt64BE(start) + 946_684_800_000_000n;
  const dayMicros = 86_400_000_000n;
  let days = micros / dayMicros;
  let rest = micros % dayMicros;
  if (rest < 0n) {
    rest += dayMicros;
    days -= 1n;
  }
  const [day, ...bc] = dayText(Number(days)).split(' ');
  const seconds = Number(rest / 1_000_000n);
  const time = `${pad(Math.floor(seconds / 3600))}:${pad(Math.floor(seconds / 60) % 60)}:${pad(seconds % 60)}.${pad(Number(rest % 1_000_000n), 6)}`;
  return `${day ?? ''} ${time}${zone ? '+00' : ''}${bc.length > 0 ? ' BC' : ''}`;
}
