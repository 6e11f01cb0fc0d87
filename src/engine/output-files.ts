import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { SqlState } from '../errors/sqlstate.js';
import { copyOptions, fileExtension } from './copy-format.js';
import type { ResolvedOutput } from './planned-tables.js';
import { RunError } from './run-error.js';
import type { DataFormat, TableColumn, TableFile } from './segment-task.js';
import { writtenFormat } from './written-format.js';

/**
 * A segment's output files, streamed by COPY from the files into its INTO
 * tables: no row is parsed in between, and memory stays bounded whatever
 * the size.
 */

/** How many bytes of an output file are read at once: each read is a trip through libuv's thread pool. */
const readPiece = 1 << 20;

/** Where the executor writes each INTO table's rows. */
export function outputFiles(
  outputs: readonly ResolvedOutput[],
  directory: string,
  formatOf: DataFormat | ((columns: readonly TableColumn[]) => DataFormat),
): TableFile[] {
  return outputs.map((output, index) => {
    const format = typeof formatOf === 'function' ? formatOf(output.columns) : formatOf;
    return {
      name: output.name,
      path: path.join(directory, `output-${String(index + 1)}.${fileExtension(format)}`),
      columns: output.columns,
      format,
    };
  });
}

/**
 * Loads each output file into its INTO table inside `session`'s open
 * transaction, and returns the rows loaded. `session` is already the
 * caller (see OutputSession), so the caller's privileges, triggers,
 * defaults and checks apply as the rows go in. The bytes go by COPY
 * straight into the INTO table (a csv header must name the table's
 * columns, from PostgreSQL 15 on); where COPY cannot put them (see
 * copiesStraight) they go by COPY into a temporary table, then by INSERT.
 * A missing or empty file is no rows; anything but a regular file (a
 * link, a pipe, a directory) fails the segment.
 */
export async function loadOutputFiles(
  session: pg.ClientBase,
  outputs: readonly ResolvedOutput[],
  files: readonly TableFile[],
  format: DataFormat,
  headerMatch: boolean,
): Promise<number> {
  let rows = 0;
  for (const [index, output] of outputs.entries()) {
    const file = files[index];
    const handle = file === undefined ? undefined : await openOutput(file);
    if (handle === undefined) continue;
    const columns = output.columns.map((column) => session.escapeIdentifier(column.name)).join(', ');
    // A file the executor chose binary for while the segment's format is not (javascript: see
    // writtenFormat) may have turned to text; a format the procedure declared is taken as it is.
    const declared = file?.format ?? format;
    const written = declared === 'binary' && format !== 'binary' ? await writtenFormat(handle, declared) : declared;
    const copy = (table: string) =>
      copyFrom(`COPY ${table} (${columns}) FROM STDIN ${copyOptions(written, headerMatch ? 'HEADER MATCH' : 'HEADER')}`);
    try {
      if (await copiesStraight(session, output)) {
        const stream = session.query(copy(output.table));
        await pipeline(handle.createReadStream({ autoClose: false, highWaterMark: readPiece }), stream);
        rows += stream.rowCount;
        continue;
      }
      const scratch = `procgate_output_${String(index + 1)}`;
      const definitions = output.columns
        .map((column) => `${session.escapeIdentifier(column.name)} ${column.type}`)
        .join(', ');
      await session.query(`CREATE TEMP TABLE ${scratch} (${definitions}) ON COMMIT DROP`);
      await pipeline(handle.createReadStream({ autoClose: false, highWaterMark: readPiece }), session.query(copy(`pg_temp.${scratch}`)));
      const inserted = await session.query(`INSERT INTO ${output.table} (${columns}) SELECT ${columns} FROM pg_temp.${scratch}`);
      rows += inserted.rowCount ?? 0;
      await session.query(`DROP TABLE pg_temp.${scratch}`);
    } finally {
      await handle.close();
    }
  }
  return rows;
}

/**
 * Whether COPY can put the rows straight into the INTO table as INSERT
 * would: not into a view (COPY refuses most), not past rules (COPY does
 * not apply them), not under row security (COPY FROM refuses it).
 */
async function copiesStraight(session: pg.ClientBase, output: ResolvedOutput): Promise<boolean> {
  const { rows } = await session.query<{ straight: boolean }>(
    `SELECT c.relkind IN ('r', 'p', 'f') AND NOT c.relhasrules AND NOT pg_catalog.row_security_active(c.oid) AS straight
       FROM pg_catalog.pg_class c WHERE c.oid = $1::pg_catalog.regclass`,
    [output.table],
  );
  return rows[0]?.straight === true;
}

/**
 * An output file opened for reading, or undefined when it holds no rows
 * (missing, or empty). The engine reads it with its own rights, so a
 * program must not choose what it reads: a link is not followed, and
 * only a regular file is read.
 */
async function openOutput(file: TableFile): Promise<FileHandle | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(file.path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw notRegular(file);
    throw error;
  }
  const info = await handle.stat();
  if (info.isFile() && info.size > 0) return handle;
  await handle.close();
  if (info.isFile()) return undefined;
  throw notRegular(file);
}

function notRegular(file: TableFile): RunError {
  return new RunError(
    `the output file of ${file.name} is not a regular file: a program writes its outputs in place, at the path it is given`,
    SqlState.wrongObjectType,
  );
}
