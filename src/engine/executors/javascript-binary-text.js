// @ts-check
/**
 * Binary COPY turned into COPY text, for an output that has to go on in
 * text (see TableOutput): every field printed as PostgreSQL reads it back
 * into the same value. Plain JavaScript, because the javascript child
 * process uses it.
 */
import { TupleReader } from './javascript-copy-binary.js';
import { escapeField, NULL_FIELD } from './javascript-copy-text.js';
import { binaryType } from './javascript-binary-values.js';

/** @typedef {import('../segment-task.js').TableColumn} TableColumn */

/**
 * A converter fed the bytes of a binary COPY file in order, a chunk at a
 * time; each call returns the lines of the tuples completed by its chunk.
 * @param {readonly TableColumn[]} columns
 * @returns {(chunk: Buffer) => string}
 */
export function binaryToText(columns) {
  const texts = columns.map((column) => {
    const type = binaryType(column.typeOid);
    if (type === undefined) throw new Error(`column "${column.name}" of type ${column.type} has no binary form here`);
    return type.text;
  });
  const reader = new TupleReader(columns.length);
  return (chunk) => {
    let lines = '';
    reader.feed(chunk, (buffer) => {
      let line = '';
      for (let c = 0; c < texts.length; c += 1) {
        const length = /** @type {number} */ (reader.lengths[c]);
        const text = /** @type {import('./javascript-binary-values.js').FieldText} */ (texts[c]);
        const start = /** @type {number} */ (reader.starts[c]);
        const field = length < 0 ? NULL_FIELD : escapeField(text(buffer, start, length));
        line += c === 0 ? field : `\t${field}`;
      }
      lines += `${line}\n`;
    });
    return lines;
  };
}
