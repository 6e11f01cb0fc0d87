/**
 * PostgreSQL reports error positions as 1-based character (code point)
 * counts; JavaScript strings index UTF-16 code units. These convert.
 */

/** The 1-based PostgreSQL position of the UTF-16 offset `offset` in `text`. */
export function toPgPosition(text: string, offset: number): number {
  let position = 1;
  for (let i = 0; i < offset && i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    // A high surrogate and its low surrogate are one character.
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < offset) i += 1;
    position += 1;
  }
  return position;
}

/** The UTF-16 offset of the 1-based PostgreSQL position `position` in `text`. */
export function fromPgPosition(text: string, position: number): number {
  let offset = 0;
  for (let remaining = position - 1; remaining > 0 && offset < text.length; remaining -= 1) {
    const code = text.charCodeAt(offset);
    offset += code >= 0xd800 && code <= 0xdbff ? 2 : 1;
  }
  return offset;
}
