import type { FileHandle } from 'node:fs/promises';
import type { DataFormat } from './segment-task.js';

/** The first bytes of a file in COPY's binary format. */
const BINARY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/**
 * The format an output file is in: its own, except that a file meant to be
 * binary that does not start with COPY's binary signature is text. The
 * javascript executor writes binary while every value has an exact binary
 * field and turns the file into text when one has not (see TableOutput in
 * executors/javascript-table-output.js); neither text nor CSV can start
 * with the signature, whose bytes are not UTF-8.
 */
export async function writtenFormat(handle: FileHandle, format: DataFormat): Promise<DataFormat> {
  if (format !== 'binary') return format;
  const start = Buffer.alloc(BINARY_SIGNATURE.length);
  const { bytesRead } = await handle.read(start, 0, start.length, 0);
  return bytesRead === start.length && start.equals(BINARY_SIGNATURE) ? 'binary' : 'text';
}
