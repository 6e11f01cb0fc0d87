import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import type pg from 'pg';
import { SqlState } from '../../errors/sqlstate.js';
import { TypeParameterError } from '../../engine/type-parameter-error.js';

/**
 * What import.csv and export.csv share: files confined to the engine's
 * --files-dir, the CSV options as COPY spells them, and a splitter that
 * finds the records of a CSV file (a quoted field may hold newlines) and
 * knows each one's line number.
 */

/** A path that leaves --files-dir: the run fails with this (PostgreSQL's 42501, insufficient_privilege). */
export class FilePermissionError extends Error {
  readonly code = SqlState.insufficientPrivilege;
}

/** A missing file or directory: the run fails with this (PostgreSQL's 58P01, undefined_file, as COPY's). */
export class MissingFileError extends Error {
  readonly code = SqlState.undefinedFile;
}

/** A CSV file that is not what the run needs: it fails with PostgreSQL's 22P04, bad_copy_file_format. */
export class CsvFormatError extends Error {
  readonly code = SqlState.badCopyFileFormat;
}

/** The engine's --files-dir, or the run fails. */
export function requireFilesDir(filesDir: string | undefined, type: string): string {
  if (filesDir === undefined || filesDir === '') {
    throw new TypeParameterError(`${type} needs the engine's --files-dir (PROCGATE_FILES_DIR): no directory is set for server-side files`);
  }
  return filesDir;
}

function outside(given: string): FilePermissionError {
  return new FilePermissionError(`permission denied: path "${given}" is outside --files-dir (${SqlState.insufficientPrivilege})`);
}

function inside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

/**
 * A file's real path inside the files directory. `given` is relative to
 * the directory; an absolute path, `..` that climbs out of it, or a
 * symbolic link (of the file or of a directory on the way) that points out
 * of it is refused. With `mustExist` false the file may be missing, but
 * its directory must exist; a file that exists is checked all the same.
 */
export async function confinedPath(filesDir: string, given: string, mustExist: boolean): Promise<string> {
  if (given === '' || path.isAbsolute(given) || given.includes('\0')) throw outside(given);
  const root = await realpath(filesDir).catch((error: unknown) => {
    throw new Error(`--files-dir "${filesDir}": ${(error as Error).message}`, { cause: error });
  });
  const lexical = path.resolve(root, given);
  if (!inside(root, lexical)) throw outside(given);
  let real: string;
  try {
    real = await realpath(lexical);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || mustExist) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new MissingFileError(`file "${given}" does not exist in --files-dir`, { cause: error });
      }
      throw error;
    }
    // A new file: its directory must be inside.
    const directory = await realpath(path.dirname(lexical)).catch((cause: unknown) => {
      throw new MissingFileError(`the directory of "${given}" does not exist in --files-dir`, { cause });
    });
    if (directory !== root && !inside(root, directory)) throw outside(given);
    return path.join(directory, path.basename(lexical));
  }
  if (!inside(root, real)) throw outside(given);
  return real;
}

/** The CSV options of both types, checked. */
export interface CsvOptions {
  readonly header: boolean;
  readonly delimiter: string;
  readonly quote: string;
  readonly nullString: string;
  readonly encoding: string;
}

export function csvOptions(params: Readonly<Record<string, unknown>>): CsvOptions {
  const oneByte = (name: string): string => {
    const value = params[name] as string;
    if (value.length !== 1 || value.charCodeAt(0) > 0x7f || value === '\n' || value === '\r') {
      throw new TypeParameterError(`parameter "${name}" must be one ASCII character other than a newline`);
    }
    return value;
  };
  const delimiter = oneByte('delimiter');
  const quote = oneByte('quote');
  if (delimiter === quote) throw new TypeParameterError('parameters "delimiter" and "quote" must differ');
  const nullString = params['null_string'] as string;
  if (/[\r\n]/.test(nullString)) throw new TypeParameterError('parameter "null_string" cannot hold a newline');
  return {
    header: params['header'] as boolean,
    delimiter,
    quote,
    nullString,
    encoding: params['encoding'] as string,
  };
}

/** COPY's option list for these options (the header is the splitter's business on import). */
export function copyOptions(client: pg.ClientBase, options: CsvOptions, header: boolean): string {
  return [
    'FORMAT csv',
    `HEADER ${header ? 'true' : 'false'}`,
    `DELIMITER ${client.escapeLiteral(options.delimiter)}`,
    `QUOTE ${client.escapeLiteral(options.quote)}`,
    `NULL ${client.escapeLiteral(options.nullString)}`,
    `ENCODING ${client.escapeLiteral(options.encoding)}`,
  ].join(', ');
}

/** A record the splitter left out, with the line it starts on. */
export interface BadLine {
  readonly line: number;
  readonly reason: string;
}

export interface SplitterOptions {
  readonly delimiter: string;
  readonly quote: string;
  /** Drop the first record. */
  readonly header: boolean;
  /** Pass at most this many data records. */
  readonly limit?: number | undefined;
  /** Leave out records without this many fields, as bad lines. */
  readonly fields?: number | undefined;
}

/**
 * Splits CSV bytes into records and passes them on, each with its
 * newline. Quotes are toggled by the quote character (an escaped quote is
 * a doubled one, as COPY's default ESCAPE), so a newline inside quotes
 * stays in its record. Lines end with \n (or \r\n). It works on bytes:
 * the delimiter and quote are ASCII, which in UTF8 and in every encoding
 * PostgreSQL can store never occur inside a multi-byte character.
 *
 * It stops reading once `limit` data records are passed; with `fields`
 * it leaves out records with another number of fields (and one whose
 * quote is never closed) and lists them in `bad`. `lineOf(n)` is the line
 * where the n-th record passed on starts, for PostgreSQL's "line n".
 */
export class CsvRecordSplitter extends Transform {
  readonly bad: BadLine[] = [];
  /** Data records passed on. */
  passed = 0;
  /** Data records read, bad ones included. */
  records = 0;
  /** Whether the limit stopped the reading. */
  limited = false;
  private readonly delimiter: number;
  private readonly quote: number;
  private readonly options: SplitterOptions;
  private pending: Buffer[] = [];
  private quoted = false;
  private fieldCount = 1;
  private line = 1;
  private recordLine = 1;
  private skipHeader: boolean;
  /** Passed record n starts on line n + shift, from the record of each entry on. */
  private readonly shifts: Array<{ record: number; shift: number }> = [];
  private done = false;

  constructor(options: SplitterOptions) {
    super();
    this.options = options;
    this.delimiter = options.delimiter.charCodeAt(0);
    this.quote = options.quote.charCodeAt(0);
    this.skipHeader = options.header;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.done) {
      callback();
      return;
    }
    let start = 0;
    for (let index = 0; index < chunk.length; index += 1) {
      const byte = chunk[index]!;
      if (byte === this.quote) {
        this.quoted = !this.quoted;
      } else if (this.quoted) {
        if (byte === 0x0a) this.line += 1;
      } else if (byte === this.delimiter) {
        this.fieldCount += 1;
      } else if (byte === 0x0a) {
        this.pending.push(chunk.subarray(start, index + 1));
        start = index + 1;
        this.line += 1;
        this.endRecord();
        if (this.done) {
          callback();
          return;
        }
      }
    }
    if (start < chunk.length) this.pending.push(chunk.subarray(start));
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (!this.done && this.pending.some((part) => part.length > 0)) {
      if (this.quoted && this.options.fields !== undefined) {
        this.records += 1;
        this.bad.push({ line: this.recordLine, reason: 'a quoted field is not closed before the end of the file' });
        this.pending = [];
      } else {
        this.pending.push(Buffer.from('\n'));
        this.endRecord();
      }
    }
    callback();
  }

  private endRecord(): void {
    const record = Buffer.concat(this.pending);
    this.pending = [];
    const line = this.recordLine;
    const fields = this.fieldCount;
    this.recordLine = this.line;
    this.fieldCount = 1;
    if (this.skipHeader) {
      this.skipHeader = false;
      return;
    }
    this.records += 1;
    const expected = this.options.fields;
    if (expected !== undefined && fields !== expected) {
      this.bad.push({ line, reason: `${String(fields)} fields where ${String(expected)} were expected` });
    } else {
      this.passed += 1;
      const shift = line - this.passed;
      const last = this.shifts.at(-1);
      if (last === undefined || last.shift !== shift) this.shifts.push({ record: this.passed, shift });
      this.push(record);
    }
    if (this.options.limit !== undefined && this.records >= this.options.limit) {
      this.done = true;
      this.limited = true;
      this.push(null);
    }
  }

  /** The line where the n-th record passed on (PostgreSQL's "line n") starts. */
  lineOf(record: number): number {
    // The last entry at or before the record: a binary search, the entries being in record order.
    let low = 0;
    let high = this.shifts.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.shifts[middle]!.record <= record) low = middle + 1;
      else high = middle;
    }
    return record + (low === 0 ? 0 : this.shifts[low - 1]!.shift);
  }
}

/**
 * The fields of one CSV record, already decoded: split at the delimiter
 * outside quotes, a doubled quote inside quotes being one quote.
 */
export function csvFields(record: string, delimiter: string, quote: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let index = 0; index < record.length; index += 1) {
    const char = record[index]!;
    if (quoted) {
      if (char !== quote) field += char;
      else if (record[index + 1] === quote) {
        field += quote;
        index += 1;
      } else quoted = false;
    } else if (char === quote) quoted = true;
    else if (char === delimiter) {
      fields.push(field);
      field = '';
    } else field += char;
  }
  fields.push(field);
  return fields;
}
