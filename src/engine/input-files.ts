import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { copyOptions, fileExtension } from './copy-format.js';
import type { StagedInput } from './planned-tables.js';
import type { DataFormat, TableColumn, TableFile } from './segment-task.js';

/**
 * A segment's share of its TABLE inputs, streamed by COPY from the server
 * into files: no row is parsed in between, and memory stays bounded
 * whatever the size.
 */

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
  formatOf: DataFormat | ((columns: readonly TableColumn[]) => DataFormat),
): Promise<{ files: TableFile[]; rows: number }> {
  const files: TableFile[] = [];
  let rows = 0;
  for (const [index, input] of inputs.entries()) {
    const format = typeof formatOf === 'function' ? formatOf(input.columns) : formatOf;
    const file = path.join(directory, `input-${String(index + 1)}.${fileExtension(format)}`);
    const columns = input.columns.map((column) => client.escapeIdentifier(column.name)).join(', ');
    const table = `procgate_staging.${client.escapeIdentifier(input.table)}`;
    const stream = client.query(
      copyTo(`COPY (SELECT ${columns} FROM ${table} WHERE ${shareOf(input, segment, segmentCount)}) TO STDOUT ${copyOptions(format, 'HEADER')}`),
    );
    await pipeline(stream, createWriteStream(file, { mode: 0o600 }));
    rows += stream.rowCount;
    files.push({ name: input.name, path: file, columns: input.columns, format });
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

