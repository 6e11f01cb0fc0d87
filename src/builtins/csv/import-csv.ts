import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { executeAsRole } from '../../engine/as-caller.js';
import type { ResolvedOutput } from '../../engine/run-planner.js';
import type { OutputLine } from '../../engine/segment-task.js';
import {
  type BadLine,
  confinedPath,
  copyOptions,
  type CsvOptions,
  csvOptions,
  csvFields,
  CsvFormatError,
  CsvRecordSplitter,
  requireFilesDir,
} from './csv-files.js';
import type { ProcedureType } from '../../engine/procedure-type.js';
import { TypeParameterError } from '../../engine/type-parameter-error.js';

/** The temporary table a file is copied into before its rows go to the INTO table. */
const SCRATCH = 'procgate_import';

/** COPY's ON_ERROR ignore and LOG_VERBOSITY verbose: PostgreSQL 17. */
const ON_ERROR_VERSION = 170_000;

/**
 * `import.csv`: a CSV file of the engine's --files-dir into the INTO table,
 * streamed with COPY. Segment 0 does it all (a file is read once); other
 * segments of a distributed run have nothing to do. The file's columns go
 * by position into the INTO table's columns; a header line is skipped, not
 * matched. A missing INTO table is made at planning (outputColumns), as the
 * caller, from RETURNS TABLE or else the file's header, every column text. The rows go in as the caller in the transaction that records
 * the segment's end, so they are there exactly once, with the run.
 *
 * With `ignore_bad_lines` a first pass finds the bad lines: records with
 * another number of fields (found while splitting the file), and from
 * PostgreSQL 17 on values that do not convert (COPY's ON_ERROR ignore,
 * whose notices name the lines); the load then leaves them out. Before 17
 * such a value fails the run.
 */
export const importCsv: ProcedureType = {
  name: 'import.csv',
  summary: "copies a CSV file of the engine's --files-dir into the INTO table",
  parameters: [
    { name: 'path', kind: 'text', required: true, description: 'the file, relative to --files-dir' },
    { name: 'header', kind: 'boolean', required: false, default: true, description: 'the first line is a header, skipped' },
    { name: 'delimiter', kind: 'text', required: false, default: ',', description: 'the field delimiter, one character' },
    { name: 'quote', kind: 'text', required: false, default: '"', description: 'the quote character (doubled inside quotes)' },
    { name: 'null_string', kind: 'text', required: false, default: '', description: 'the unquoted string that means NULL' },
    { name: 'encoding', kind: 'text', required: false, default: 'UTF8', description: "the file's encoding, as PostgreSQL names it" },
    {
      name: 'ignore_bad_lines',
      kind: 'boolean',
      required: false,
      default: false,
      description: 'leave out bad lines (counted in results, listed with their line numbers in run_output) instead of failing',
    },
    { name: 'limit', kind: 'integer', required: false, description: 'read at most this many data lines' },
  ],
  // A missing INTO table is made from the header, all text: see docs/csv-types.md for why not inferred types.
  async outputColumns({ params, position, client, filesDir }) {
    if (position !== 0) return undefined;
    const options = csvOptions(params);
    const given = params['path'] as string;
    const file = await confinedPath(requireFilesDir(filesDir, 'import.csv'), given, true);
    const record = await firstRecord(file, options);
    if (record === undefined) {
      throw new CsvFormatError(`file "${given}" is empty: it has no line to make the INTO table's columns from`);
    }
    // PostgreSQL decodes the line from the file's encoding, as COPY will.
    const { rows } = await client.query<{ line: string }>('SELECT pg_catalog.convert_from($1::bytea, $2) AS line', [
      record,
      options.encoding,
    ]);
    const fields = csvFields((rows[0]?.line ?? '').replace(/\r?\n$/, ''), options.delimiter, options.quote);
    return fields.map((field, index) => ({
      name: options.header && field !== '' ? field : `column${String(index + 1)}`,
      type: 'text',
    }));
  },
  async run(context) {
    const filesDir = requireFilesDir(context.filesDir, 'import.csv');
    const output = context.outputs[0];
    if (output === undefined) throw new TypeParameterError('import.csv needs an INTO table');
    const options = csvOptions(context.params);
    const limit = context.params['limit'] as number | undefined;
    if (limit !== undefined && limit < 0) throw new TypeParameterError('parameter "limit" must not be negative');
    const given = context.params['path'] as string;
    const file = await confinedPath(filesDir, given, true);
    // One file, read once: the first segment's.
    if (context.segment !== 0) return { idle: true };
    const ignore = context.params['ignore_bad_lines'] === true;
    const version = await serverVersion(context.pool);
    const onError = ignore && version >= ON_ERROR_VERSION;
    const plan: ImportPlan = { file, given, output, options, limit, ignore, onError, role: context.role };

    const results: Record<string, unknown> = { path: given };
    const lines: OutputLine[] = [];
    if (ignore) {
      // The survey: the same COPY in a transaction that is rolled back, to learn the bad lines.
      const client = await context.pool.connect();
      try {
        await client.query('BEGIN');
        const survey = await copyFile(client, plan);
        await client.query('ROLLBACK');
        results['lines_read'] = survey.records;
        results['bad_lines'] = survey.bad.length;
        for (const bad of survey.bad) {
          lines.push({ stream: 'stderr', line_no: lines.length + 1, line: `line ${String(bad.line)}: ${bad.reason}` });
        }
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    }
    context.report({ kind: 'progress', fraction: ignore ? 0.5 : 0 });
    return {
      results,
      output: lines,
      load: async (client) => {
        await copyFile(client, plan);
        const columns = output.columns.map((column) => client.escapeIdentifier(column.name)).join(', ');
        await client.query(`GRANT SELECT ON pg_temp.${SCRATCH} TO ${client.escapeIdentifier(context.role)}`);
        const rows = await executeAsRole(
          client,
          context.role,
          `INSERT INTO ${output.table} (${columns}) SELECT ${columns} FROM pg_temp.${SCRATCH}`,
        );
        await client.query(`DROP TABLE pg_temp.${SCRATCH}`);
        return rows;
      },
    };
  },
};

interface ImportPlan {
  readonly file: string;
  readonly given: string;
  readonly output: ResolvedOutput;
  readonly options: CsvOptions;
  readonly limit: number | undefined;
  readonly ignore: boolean;
  readonly onError: boolean;
  readonly role: string;
}

/**
 * Copies the file's records into pg_temp.procgate_import (the INTO table's
 * columns and types) inside the client's open transaction, and returns the
 * bad lines left out. An error of COPY names the file's line, not COPY's.
 */
async function copyFile(client: pg.ClientBase, plan: ImportPlan): Promise<{ records: number; bad: BadLine[] }> {
  const definitions = plan.output.columns
    .map((column) => `${client.escapeIdentifier(column.name)} ${column.type}`)
    .join(', ');
  await client.query(`CREATE TEMP TABLE ${SCRATCH} (${definitions}) ON COMMIT DROP`);
  const splitter = new CsvRecordSplitter({
    delimiter: plan.options.delimiter,
    quote: plan.options.quote,
    header: plan.options.header,
    limit: plan.limit,
    fields: plan.ignore ? plan.output.columns.length : undefined,
  });
  const skipped: BadLine[] = [];
  const onNotice = (notice: { message?: string }): void => {
    const match = /at line (\d+) for column "(.*)": (.*)$/s.exec(notice.message ?? '');
    if (match === null) return;
    skipped.push({
      line: splitter.lineOf(Number(match[1])),
      reason: `column "${match[2]!}": ${match[3]!} is not a value of its type`,
    });
  };
  const extra = plan.onError ? ', ON_ERROR ignore, LOG_VERBOSITY verbose' : '';
  client.on('notice', onNotice);
  try {
    await pipeline(
      readUntilLimit(plan.file, splitter),
      splitter,
      client.query(copyFrom(`COPY pg_temp.${SCRATCH} FROM STDIN (${copyOptions(client, plan.options, false)}${extra})`)),
    );
  } catch (error) {
    throw onFileLines(error, splitter, plan.given);
  } finally {
    client.off('notice', onNotice);
  }
  return { records: splitter.records, bad: [...splitter.bad, ...skipped].sort((a, b) => a.line - b.line) };
}

/** The file's first record (the header, if it has one) as bytes, or undefined for an empty file. */
async function firstRecord(file: string, options: CsvOptions): Promise<Buffer | undefined> {
  const { delimiter, quote } = options;
  const splitter = new CsvRecordSplitter({ delimiter, quote, header: false, limit: 1 });
  const parts: Buffer[] = [];
  await pipeline(readUntilLimit(file, splitter), splitter, async (records: AsyncIterable<Buffer>) => {
    for await (const record of records) parts.push(record);
  });
  return parts.length === 0 ? undefined : Buffer.concat(parts);
}

/** The file's bytes, until the splitter has passed its limit. */
async function* readUntilLimit(file: string, splitter: CsvRecordSplitter): AsyncGenerator<Buffer> {
  const stream = createReadStream(file);
  try {
    for await (const chunk of stream) {
      yield chunk as Buffer;
      if (splitter.limited) return;
    }
  } finally {
    stream.destroy();
  }
}

/** PostgreSQL's "line n" of a COPY error, made the file's line n. */
function onFileLines(error: unknown, splitter: CsvRecordSplitter, given: string): unknown {
  const where = (error as { where?: unknown }).where;
  if (typeof where !== 'string') return error;
  (error as { where: string }).where = where.replace(
    /^COPY \S+, line (\d+)/,
    (_, record: string) => `${given}, line ${String(splitter.lineOf(Number(record)))}`,
  );
  return error;
}

async function serverVersion(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ v: number }>("SELECT current_setting('server_version_num')::int AS v");
  return rows[0]?.v ?? 0;
}
