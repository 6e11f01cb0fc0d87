import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { SqlState } from '../errors/sqlstate.js';
import { executeAsRole } from './as-caller.js';
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
 * Loads each output file into its INTO table inside the client's open
 * transaction, and returns the rows loaded. The bytes go by COPY into a
 * temporary table of the engine's (a csv header must name the table's
 * columns, from PostgreSQL 15 on); the rows then go into the INTO table as
 * the caller (see executeAsRole), so the caller's privileges, triggers and
 * row security apply. A missing or empty file is no rows; anything but a
 * regular file (a link, a pipe, a directory) fails the segment.
 */
export async function loadOutputFiles(
  client: pg.ClientBase,
  role: string,
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
    const scratch = `pg_temp.procgate_output_${String(index + 1)}`;
    const columns = output.columns.map((column) => client.escapeIdentifier(column.name)).join(', ');
    const definitions = output.columns
      .map((column) => `${client.escapeIdentifier(column.name)} ${column.type}`)
      .join(', ');
    try {
      await client.query(`CREATE TEMP TABLE ${scratch.slice('pg_temp.'.length)} (${definitions}) ON COMMIT DROP`);
      const header = headerMatch ? 'HEADER MATCH' : 'HEADER';
      await pipeline(
        handle.createReadStream({ autoClose: false }),
        client.query(copyFrom(`COPY ${scratch} FROM STDIN ${copyOptions(await writtenFormat(handle, file?.format ?? format), header)}`)),
      );
    } finally {
      await handle.close();
    }
    await client.query(`GRANT SELECT ON ${scratch} TO ${client.escapeIdentifier(role)}`);
    rows += await executeAsRole(client, role, `INSERT INTO ${output.table} (${columns}) SELECT ${columns} FROM ${scratch}`);
    await client.query(`DROP TABLE ${scratch}`);
  }
  return rows;
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
