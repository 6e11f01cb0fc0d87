// @ts-check
/**
 * The channel between the javascript executor and a pooled child process:
 * one JSON message per line over a socket pair on the child's fd 3.
 * Plain JavaScript, so the child (javascript-child.js) uses it too.
 *
 * Not Node's own IPC channel (fork): the child runs users' code, which
 * can write anything on that descriptor, and Node's IPC throws a line
 * that is not JSON as an exception nothing catches in the parent (the
 * engine's process), and acts on messages it reserves for itself
 * (passing handles). Here a malformed line is only a broken channel.
 */

/** A longer message breaks the channel: it would be held in memory whole. */
export const MAX_MESSAGE_LENGTH = 64 * 1024 * 1024;

/** The descriptor of the channel in the child. */
export const CHANNEL_FD = 3;

/**
 * Reads messages from the text of a stream, chunk by chunk.
 * @template T
 */
export class MessageLines {
  /** The start of a message still coming, in parts. @type {string[]} */
  #parts = [];
  #length = 0;
  #broken = false;
  #onMessage;
  #onBroken;

  /**
   * @param {(message: T) => void} onMessage
   * @param {(reason: string) => void} onBroken Called once, at the first line that is not a JSON object or is too long.
   */
  constructor(onMessage, onBroken) {
    this.#onMessage = onMessage;
    this.#onBroken = onBroken;
  }

  /** @param {string} chunk */
  push(chunk) {
    let start = 0;
    for (let end = chunk.indexOf('\n'); end !== -1 && !this.#broken; end = chunk.indexOf('\n', start)) {
      this.#parts.push(chunk.slice(start, end));
      const line = this.#parts.length === 1 ? this.#parts[0] ?? '' : this.#parts.join('');
      this.#parts = [];
      this.#length = 0;
      start = end + 1;
      this.#line(line);
    }
    if (start < chunk.length && !this.#broken) {
      this.#parts.push(chunk.slice(start));
      this.#length += chunk.length - start;
      if (this.#length > MAX_MESSAGE_LENGTH) this.#break(`a message longer than ${String(MAX_MESSAGE_LENGTH)} characters`);
    }
  }

  /** @param {string} line */
  #line(line) {
    if (line.length > MAX_MESSAGE_LENGTH) {
      this.#break(`a message longer than ${String(MAX_MESSAGE_LENGTH)} characters`);
      return;
    }
    /** @type {unknown} */
    let message;
    try {
      message = JSON.parse(line);
    } catch {
      message = undefined;
    }
    if (typeof message !== 'object' || message === null || typeof (/** @type {{ kind?: unknown }} */ (message).kind) !== 'string') {
      this.#break('a line that is not a message');
      return;
    }
    this.#onMessage(/** @type {T} */ (message));
  }

  /** @param {string} reason */
  #break(reason) {
    this.#broken = true;
    this.#parts = [];
    this.#onBroken(reason);
  }
}

/**
 * A message as a line of the channel.
 * @param {unknown} message
 * @returns {string}
 */
export function messageLine(message) {
  return `${JSON.stringify(message)}\n`;
}
