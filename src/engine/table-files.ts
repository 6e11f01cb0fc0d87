import { constants, createWriteStream } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { SqlState } from '../errors/sqlstate.js';
import { executeAsRole } from './as-caller.js';
import type { ResolvedOutput, StagedInput } from './planned-tables.js';
import { RunError } from './run-error.js';
import type { DataFormat, TableFile } from './segment-task.js';

/**
 * Moving table data between PostgreSQL and a segment's files with COPY:
 * bytes stream from the server into a file and from a file back to the
 * server; no row is parsed in between, and memory stays bounded whatever
 * the size.
 */

/** COPY options for a format; csv files carry a header line. */
function copyOptions(format: DataFormat, header: 'HEADER' | 'HEADER MATCH'): string {
  return format === 'csv' ? `(FORMAT csv, ${header})` : '(FORMAT text)';
}

/**
 * Writes segment `segment` of `segmentCount`'s share of each staged input
 * to `<directory>/input/<n>.<ext>`. A partitioned input's share is its
 * partition's rows; any other input is split by block ranges of its
 * staging table. Returns the files and the rows written.
 */
export async function writeInputFiles(
  client: pg.ClientBase,
  inputs: readonly StagedInput[],
  segment: number,
  segmentCount: number,
  directory: string,
  format: DataFormat,
): Promise<{ files: TableFile[]; rows: number }> {
  const files: TableFile[] = [];
  let rows = 0;
  for (const [index, input] of inputs.entries()) {
    const file = path.join(directory, `input-${String(index + 1)}.${format === 'csv' ? 'csv' : 'txt'}`);
    const columns = input.columns.map((column) => client.escapeIdentifier(column.name)).join(', ');
    const table = `procgate_staging.${client.escapeIdentifier(input.table)}`;
    const stream = client.query(
      copyTo(`COPY (SELECT ${columns} FROM ${table} WHERE ${shareOf(input, segment, segmentCount)}) TO STDOUT ${copyOptions(format, 'HEADER')}`),
    );
    await pipeline(stream, createWriteStream(file, { mode: 0o600 }));
    rows += stream.rowCount;
    files.push({ name: input.name, path: file, columns: input.columns });
  }
  return { files, rows };
}

/** The WHERE condition of a segment's share of a staged input. */
export function shareOf(input: StagedInput, segment: number, segmentCount: number): string {
  if (input.partitioned) return `procgate_segment = ${String(segment)}`;
  const from = Math.floor((input.blocks * segment) / segmentCount);
  const to = Math.floor((input.blocks * (segment + 1)) / segmentCount);
  const lower = `ctid >= '(${String(from)},0)'::tid`;
  // The last share runs to the end, whatever the table grew to after planning.
  return segment === segmentCount - 1 ? lower : `${lower} AND ctid < '(${String(to)},0)'::tid`;
}

/** Where the executor writes each INTO table's rows. */
export function outputFiles(outputs: readonly ResolvedOutput[], directory: string, format: DataFormat): TableFile[] {
  return outputs.map((output, index) => ({
    name: output.name,
    path: path.join(directory, `output-${String(index + 1)}.${format === 'csv' ? 'csv' : 'txt'}`),
    columns: output.columns,
  }));
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
        client.query(copyFrom(`COPY ${scratch} FROM STDIN ${copyOptions(format, header)}`)),
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
