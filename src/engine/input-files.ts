import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { copyOptions, fileExtension } from './copy-format.js';
import { copyOut } from './copy-out.js';
import { fileSink } from './file-sink.js';
import { ctidRange, directShare, openSnapshot } from './direct-read.js';
import { isStaged, type PlannedInput, type StagedInput } from './planned-tables.js';
import type { SegmentDatabase } from './segment-database.js';
import type { DataFormat, TableColumn, TableFile } from './segment-task.js';

/**
 * A segment's share of its TABLE inputs, streamed by COPY from the server
 * into files: no row is parsed in between, and memory stays bounded
 * whatever the size.
 */

/** Where a segment's inputs come from: staging tables through the engine's pool, sources through its login. */
export interface InputSources {
  readonly pool: pg.Pool;
  /** The segment's login; a direct input cannot be read without it. */
  readonly database: SegmentDatabase | undefined;
}

/**
 * Writes segment `segment` of `segmentCount`'s share of each input to
 * `<directory>/input-<n>.<ext>`. A staged input is read from its staging
 * table: a partitioned one's share is its partition's rows, any other is
 * split by block ranges. A direct input is read from its source as the
 * caller, under the run's snapshot (see direct-read.ts). Returns the files
 * and the rows written.
 */
export async function writeInputFiles(
  { pool, database }: InputSources,
  inputs: readonly PlannedInput[],
  segment: number,
  segmentCount: number,
  directory: string,
  formatOf: DataFormat | ((columns: readonly TableColumn[]) => DataFormat),
  signal?: AbortSignal,
): Promise<{ files: TableFile[]; rows: number }> {
  const files: TableFile[] = [];
  let rows = 0;
  let staging: pg.PoolClient | undefined;
  let reader: pg.Client | undefined;
  // A stopped segment's read ends at once: a direct read runs the caller's functions, which may wait for anything.
  const cancel = (): void => {
    const pids = [staging, reader].map((client) => processIdOf(client)).filter((pid) => pid !== undefined);
    if (pids.length === 0) return;
    pool.query('SELECT pg_catalog.pg_cancel_backend(pid) FROM pg_catalog.unnest($1::int[]) AS pid', [pids]).catch(() => undefined);
  };
  signal?.addEventListener('abort', cancel);
  try {
    for (const [index, input] of inputs.entries()) {
      signal?.throwIfAborted();
      const format = typeof formatOf === 'function' ? formatOf(input.columns) : formatOf;
      const file = path.join(directory, `input-${String(index + 1)}.${fileExtension(format)}`);
      let client: pg.ClientBase;
      let query: string;
      if (isStaged(input)) {
        staging ??= await pool.connect();
        client = staging;
        const columns = input.columns.map((column) => client.escapeIdentifier(column.name)).join(', ');
        const table = `procgate_staging.${client.escapeIdentifier(input.table)}`;
        query = `SELECT ${columns} FROM ${table} WHERE ${shareOf(input, segment, segmentCount)}`;
      } else {
        if (database === undefined) throw new Error('a direct input needs the segment\'s database login');
        // Every direct input of a run has the run's one snapshot.
        reader ??= await openSnapshot(database, input.snapshot);
        client = reader;
        query = directShare(input, segment, segmentCount);
      }
      const stream = client.query(copyOut(`COPY (${query}) TO STDOUT ${copyOptions(format, 'HEADER')}`));
      await pipeline(stream, fileSink(file, 0o600));
      rows += stream.rowCount;
      files.push({ name: input.name, path: file, columns: input.columns, format });
    }
  } finally {
    signal?.removeEventListener('abort', cancel);
    // A cancelled session may be left in a state not worth reusing.
    staging?.release(signal?.aborted === true);
    await reader?.end().catch(() => undefined);
  }
  return { files, rows };
}

/** The backend of a connected client. */
function processIdOf(client: pg.ClientBase | undefined): number | undefined {
  return (client as { processID?: number | null } | undefined)?.processID ?? undefined;
}

/** The WHERE condition of a segment's share of a staged input. */
export function shareOf(input: StagedInput, segment: number, segmentCount: number): string {
  if (input.partitioned) return `procgate_segment = ${String(segment)}`;
  return ctidRange(input.blocks, segment, segmentCount);
}
