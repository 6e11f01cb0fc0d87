import { execFileSync } from 'node:child_process';
import os from 'node:os';

/** A target a benchmark holds procgate to, and how it fared. */
export interface Bar {
  readonly description: string;
  /** undefined: there was no figure to judge. */
  readonly met: boolean | undefined;
  readonly detail: string;
}

/** One line per bar: `met`, `NOT met` or `n/a`, then what was measured. */
export function formatBars(bars: readonly Bar[]): string {
  return bars
    .map((bar) => {
      const verdict = bar.met === undefined ? 'n/a    ' : bar.met ? 'met    ' : 'NOT met';
      return `${verdict}  ${bar.description}: ${bar.detail}`;
    })
    .join('\n');
}

/** The median resists the odd run slowed down by something else on a shared 2-core machine. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Nearest-rank percentile. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Left-aligned first column, right-aligned others. */
export function formatColumns(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return rows
    .map((row) =>
      row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd(),
    )
    .join('\n');
}

/** The code measured: the commit, and the files of src/ that differ from it. */
export function codeVersion(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line !== '').length;
    return dirty === 0 ? `commit ${head}` : `commit ${head} + ${String(dirty)} changed file(s) in src/`;
  } catch {
    return 'unknown version';
  }
}

/**
 * The 1, 5 and 15 minute load averages: everything shares the machine's
 * cores, so a load well above the bench's own means other work skewed it.
 */
export function loadAverages(): string {
  return os.loadavg().map((load) => load.toFixed(2)).join(' ');
}

/** The report goes to stdout, progress lines to stderr. */
export function printReport(lines: readonly string[]): void {
  process.stdout.write(`${lines.join('\n')}\n`);
}
