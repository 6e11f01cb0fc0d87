import { to as copyTo, type CopyToStreamQuery } from 'pg-copy-streams';

/**
 * COPY … TO STDOUT as a stream of its bytes, like pg-copy-streams' `to`,
 * cheaper per row. PostgreSQL sends each row in a CopyData message of its
 * own; pg-copy-streams takes every message apart through its list of
 * buffers, which costs more than the row's bytes do. Here each chunk read
 * from the connection is scanned once: the payloads of its whole CopyData
 * messages are moved together at its start and passed on as one buffer.
 * Whatever is left (a message cut by the chunk's end, any other message:
 * the end of the copy, an error, a notice) goes to pg-copy-streams' own
 * parser, which keeps its protocol handling as it is.
 *
 * This leans on the parser state of pg-copy-streams 7.0.0 (package.json
 * pins that version): its states and its buffer of unread bytes.
 */
export function copyOut(text: string): CopyToStreamQuery {
  const stream = copyTo(text);
  const parser = stream as unknown as CopyToParser;
  const parse = parser._parse.bind(parser);
  parser._parse = (chunk) => {
    const { payloads, rest } = takePayloads(parser, chunk);
    // Passed on before the parser's own: it passes on what it gathered before it returns.
    const drained = payloads === undefined || stream.push(payloads);
    return rest.length === 0 ? drained : parse(rest) && drained;
  };
  return stream;
}

/** What copyOut uses of pg-copy-streams' CopyStreamQuery (copy-to.js). */
interface CopyToParser {
  _state: number;
  _code: number;
  _unreadMessageContentLength: number;
  readonly _buffer: { readonly size: number; take(n: number): Buffer };
  _parse(chunk: Buffer): boolean;
}

// copy-to.js's decoder states, and the protocol's code of CopyData.
const atCode = 0;
const atLength = 1;
const inMessage = 2;
const copyData = 0x64;

/**
 * The payloads of the whole CopyData messages at the start of `chunk`
 * (after what the parser holds from the chunks before), and the rest,
 * for the parser. The chunk is the stream's own, read off the
 * connection: the payloads are moved within it.
 */
function takePayloads(parser: CopyToParser, chunk: Buffer): { payloads: Buffer | undefined; rest: Buffer } {
  let input = chunk;
  let head = 0;
  if (parser._state === inMessage) {
    // The rest of a message the parser began: a CopyData's goes on as it is.
    if (parser._code !== copyData || parser._buffer.size > 0) return { payloads: undefined, rest: chunk };
    const n = Math.min(chunk.length, parser._unreadMessageContentLength);
    parser._unreadMessageContentLength -= n;
    if (parser._unreadMessageContentLength > 0) return { payloads: chunk, rest: chunk.subarray(n) };
    parser._state = atCode;
    // The message's last bytes start the chunk: the payloads after them are moved up behind them.
    input = chunk;
    head = n;
  } else if (parser._state === atLength) {
    // A message's code and part of its length came at the end of the last chunk.
    input = Buffer.concat([Buffer.of(parser._code), parser._buffer.take(parser._buffer.size), chunk]);
    parser._state = atCode;
  } else if (parser._buffer.size > 0) {
    input = Buffer.concat([parser._buffer.take(parser._buffer.size), chunk]);
  }
  let read = head;
  let written = head;
  while (read + 5 <= input.length && input[read] === copyData) {
    const length = input.readUInt32BE(read + 1);
    const end = read + 1 + length;
    if (length < 4 || end > input.length) break;
    input.copyWithin(written, read + 5, end);
    written += end - read - 5;
    read = end;
  }
  return { payloads: written > 0 ? input.subarray(0, written) : undefined, rest: input.subarray(read) };
}
