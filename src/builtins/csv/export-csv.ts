import { constants } from 'node:fs';
import { type FileHandle, open, unlink } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { SqlState } from '../../errors/sqlstate.js';
import { confinedPath, copyOptions, csvOptions, FilePermissionError, requireFilesDir } from './csv-files.js';
import type { ProcedureType } from '../../engine/procedure-type.js';
import { TypeParameterError } from '../../engine/type-parameter-error.js';

/**
 * `export.csv`: the rows of a TABLE (select) into a CSV file of the
 * engine's --files-dir, streamed with COPY ... TO STDOUT. The select was
 * read as the caller when the run was planned (its staging table); the
 * engine copies it out. One file: segment 0 writes all the rows, other
 * segments of a distributed run have nothing to do. An existing file is
 * refused unless `overwrite`; a symbolic link is never followed.
 */
export const exportCsv: ProcedureType = {
  name: 'export.csv',
  summary: "writes the rows of a query into a CSV file of the engine's --files-dir",
  parameters: [
    { name: 'input', kind: 'table', required: true, description: 'TABLE (select): the rows to write' },
    { name: 'path', kind: 'text', required: true, description: 'the file, relative to --files-dir' },
    { name: 'overwrite', kind: 'boolean', required: false, default: false, description: 'replace an existing file' },
    { name: 'header', kind: 'boolean', required: false, default: true, description: 'write a header line of the column names' },
    { name: 'delimiter', kind: 'text', required: false, default: ',', description: 'the field delimiter, one character' },
    { name: 'quote', kind: 'text', required: false, default: '"', description: 'the quote character' },
    { name: 'null_string', kind: 'text', required: false, default: '', description: 'the string written for NULL' },
    { name: 'encoding', kind: 'text', required: false, default: 'UTF8', description: "the file's encoding, as PostgreSQL names it" },
    { name: 'limit', kind: 'integer', required: false, description: 'write at most this many rows' },
  ],
  async run(context) {
    const filesDir = requireFilesDir(context.filesDir, 'export.csv');
    const input = context.inputs[0];
    if (input === undefined) throw new TypeParameterError('export.csv needs a TABLE argument "input"');
    if (context.outputs.length > 0) throw new TypeParameterError('export.csv writes a file, not an INTO table');
    const options = csvOptions(context.params);
    const limit = context.params['limit'] as number | undefined;
    if (limit !== undefined && limit < 0) throw new TypeParameterError('parameter "limit" must not be negative');
    const given = context.params['path'] as string;
    const file = await confinedPath(filesDir, given, false);
    if (context.segment !== 0) return { idle: true };
    const overwrite = context.params['overwrite'] === true;
    const handle = await openOutputFile(file, given, overwrite);
    // The stream owns the file from here: it closes it when it ends or fails.
    const out = handle.createWriteStream();
    let client: pg.PoolClient;
    try {
      client = await context.pool.connect();
    } catch (error) {
      out.destroy();
      throw error;
    }
    let rows: number;
    let failed: unknown;
    try {
      const columns = input.columns.map((column) => client.escapeIdentifier(column.name)).join(', ');
      const staging = `procgate_staging.${client.escapeIdentifier(input.table)}`;
      const limited = limit === undefined ? '' : ` LIMIT ${String(limit)}`;
      const stream = client.query(
        copyTo(`COPY (SELECT ${columns} FROM ${staging}${limited}) TO STDOUT (${copyOptions(client, options, options.header)})`),
      );
      await pipeline(stream, out);
      rows = stream.rowCount;
    } catch (error) {
      failed = error;
      out.destroy();
      if (!overwrite) await unlink(file).catch(() => undefined);
      throw error;
    } finally {
      // A COPY cut short leaves the connection in no state to reuse.
      client.release(failed !== undefined);
    }
    context.report({ kind: 'progress', fraction: 1 });
    return { results: { path: given, rows }, load: () => Promise.resolve(rows) };
  },
};

/**
 * Opens the file export.csv writes: a new one, or with `overwrite` an
 * existing one emptied. O_NOFOLLOW: a symbolic link put in the file's place
 * after confinedPath checked it is not followed out of --files-dir; the run
 * then fails as for any path outside it (42501).
 */
export async function openOutputFile(file: string, given: string, overwrite: boolean): Promise<FileHandle> {
  const flags =
    constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | (overwrite ? constants.O_TRUNC : constants.O_EXCL);
  return open(file, flags, 0o644).catch((error: unknown) => {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      throw new Error(`file "${given}" exists (export.csv replaces a file only with overwrite => true)`);
    }
    if (code === 'ELOOP') {
      throw new FilePermissionError(`permission denied: path "${given}" is a symbolic link (${SqlState.insufficientPrivilege})`);
    }
    throw error;
  });
}
