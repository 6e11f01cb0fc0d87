import type { DataFormat } from './segment-task.js';

/** COPY options for a table file's format; csv files carry a header line. */
export function copyOptions(format: DataFormat, header: 'HEADER' | 'HEADER MATCH'): string {
  return format === 'csv' ? `(FORMAT csv, ${header})` : '(FORMAT text)';
}
