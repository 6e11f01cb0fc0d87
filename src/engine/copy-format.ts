import type { DataFormat } from './segment-task.js';

/** COPY options for a table file's format; csv files carry a header line. */
export function copyOptions(format: DataFormat, header: 'HEADER' | 'HEADER MATCH'): string {
  if (format === 'csv') return `(FORMAT csv, ${header})`;
  return format === 'binary' ? '(FORMAT binary)' : '(FORMAT text)';
}

/** The file name extension of a table file in `format`. */
export function fileExtension(format: DataFormat): string {
  if (format === 'csv') return 'csv';
  return format === 'binary' ? 'bin' : 'txt';
}
