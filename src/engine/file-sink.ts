import { type FileHandle, open } from 'node:fs/promises';
import { Writable } from 'node:stream';

/** How many bytes a file sink gathers before it writes them. */
const gathered = 1 << 20;

/**
 * A stream into a new file (made with `mode`, or emptied), like
 * fs.createWriteStream, that writes in pieces of about a mebibyte: a
 * COPY's bytes come off the connection in pieces of a few kilobytes, and
 * each write is a trip through libuv's thread pool. The chunks are
 * gathered as they are (no copy) and written by one writev. Memory stays
 * bounded: the stream waits for each write.
 */
export function fileSink(file: string, mode: number): Writable {
  let handle: FileHandle | undefined;
  let pending: Buffer[] = [];
  let bytes = 0;
  const flush = async (): Promise<void> => {
    if (bytes === 0 || handle === undefined) return;
    const chunks = pending;
    const total = bytes;
    pending = [];
    bytes = 0;
    const { bytesWritten } = await handle.writev(chunks);
    if (bytesWritten < total) await writeRest(handle, chunks, bytesWritten);
  };
  const done = (callback: (error?: Error | null) => void) => (promise: Promise<void>) =>
    promise.then(
      () => callback(),
      (error: Error) => callback(error),
    );
  return new Writable({
    construct(callback) {
      open(file, 'w', mode).then(
        (opened) => {
          handle = opened;
          callback();
        },
        (error: Error) => callback(error),
      );
    },
    write(chunk: Buffer, _encoding, callback) {
      pending.push(chunk);
      bytes += chunk.length;
      if (bytes < gathered) callback();
      else void done(callback)(flush());
    },
    final(callback) {
      void done(callback)(flush());
    },
    destroy(error, callback) {
      const opened = handle;
      handle = undefined;
      if (opened === undefined) callback(error);
      else opened.close().then(() => callback(error), () => callback(error));
    },
  });
}

/** Writes what a short writev left of `chunks`, past its first `skip` bytes. */
async function writeRest(handle: FileHandle, chunks: readonly Buffer[], skip: number): Promise<void> {
  let left = skip;
  for (const chunk of chunks) {
    if (left >= chunk.length) {
      left -= chunk.length;
      continue;
    }
    let at = left;
    left = 0;
    while (at < chunk.length) at += (await handle.write(chunk, at)).bytesWritten;
  }
}
