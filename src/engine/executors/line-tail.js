// @ts-check
/**
 * The last lines of a program's stdout or stderr. Plain JavaScript, so
 * the command spawner (command-spawner.js) keeps them where it reads the
 * programs' output, and the javascript executor uses it too.
 */

/** @typedef {import('../segment-task.js').OutputLine} OutputLine */

/** Longest line kept; a longer one is cut, so one runaway line cannot fill memory. */
const MAX_LINE_LENGTH = 64 * 1024;

/** The last `limit` lines of one stream, numbered from the stream's start. */
export class LineTail {
  /** @type {string[]} */
  #lines = [];
  #count = 0;
  #partial = '';
  #stream;
  #limit;

  /**
   * @param {OutputLine['stream']} stream
   * @param {number} limit
   */
  constructor(stream, limit) {
    this.#stream = stream;
    this.#limit = limit;
  }

  /**
   * Feeds a chunk of the stream; complete lines are kept, the rest waits for more.
   * @param {string} chunk
   */
  push(chunk) {
    const parts = (this.#partial + chunk).split('\n');
    this.#partial = (parts.pop() ?? '').slice(0, MAX_LINE_LENGTH);
    for (const part of parts) this.#add(part);
  }

  /** Ends the stream: a last line without a newline still counts. */
  end() {
    if (this.#partial !== '') this.#add(this.#partial);
    this.#partial = '';
  }

  /**
   * The kept lines, oldest first.
   * @returns {OutputLine[]}
   */
  output() {
    const first = this.#count - this.#lines.length + 1;
    return this.#lines.map((line, i) => ({ stream: this.#stream, line_no: first + i, line }));
  }

  /**
   * The last `n` kept lines as one text.
   * @param {number} n
   * @returns {string}
   */
  tail(n) {
    return this.#lines.slice(-n).join('\n');
  }

  /** @param {string} line */
  #add(line) {
    this.#count += 1;
    this.#lines.push(line.endsWith('\r') ? line.slice(0, -1).slice(0, MAX_LINE_LENGTH) : line.slice(0, MAX_LINE_LENGTH));
    if (this.#lines.length > this.#limit) this.#lines.shift();
  }
}
