/**
 * PostgreSQL stores no NUL character in text or jsonb. A program's output
 * lines, its message and its results may hold one: it is written as U+FFFD
 * (as an undecodable byte is), so the segment's end can still be recorded.
 */

/** `text` with each NUL written as U+FFFD. */
export function storableText(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text;
}

/** A JSON value with each NUL of its strings and keys written as U+FFFD. */
export function storableJson(value: unknown): unknown {
  if (typeof value === 'string') return storableText(value);
  if (Array.isArray(value)) return value.map(storableJson);
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [storableText(key), storableJson(inner)]));
  }
  return value;
}
