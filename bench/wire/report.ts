import type { QueryMode, TargetName } from '../support/pgbench.js';
import { type Bar, median } from '../support/report.js';

/** One (mode, clients) cell of the matrix. */
export interface Cell {
  readonly mode: QueryMode;
  readonly clients: number;
  readonly threads: number;
}

/** Median tps per target for one cell; NaN where every run of that target failed. */
export interface Row {
  readonly cell: Cell;
  readonly tps: Readonly<Record<TargetName, number>>;
}

/** tps of every successful run, per cell and target. */
export class Results {
  private readonly runs = new Map<string, number[]>();

  add(cell: Cell, target: TargetName, tps: number): void {
    const key = Results.key(cell, target);
    this.runs.set(key, [...(this.runs.get(key) ?? []), tps]);
  }

  median(cell: Cell, target: TargetName): number {
    return median(this.runs.get(Results.key(cell, target)) ?? []);
  }

  private static key(cell: Cell, target: TargetName): string {
    return `${cell.mode}/${cell.clients}/${target}`;
  }
}

export function summarise(results: Results, cells: readonly Cell[]): Row[] {
  return cells.map((cell) => ({
    cell,
    tps: {
      direct: results.median(cell, 'direct'),
      procgate: results.median(cell, 'procgate'),
      pgbouncer: results.median(cell, 'pgbouncer'),
    },
  }));
}

/**
 * Per-transaction time added by procgate. At one client a transaction's time
 * is 1/tps, so the difference of the inverses is the extra round-trip cost.
 */
export function addedLatencyMicros(row: Row): number {
  return 1e6 / row.tps.procgate - 1e6 / row.tps.direct;
}

const COLUMNS = [
  'mode',
  'clients',
  'direct tps',
  'procgate tps',
  'pgbouncer tps',
  'pg/direct',
  'pg/pgbouncer',
  'added µs/tx',
] as const;

export function formatTable(rows: readonly Row[]): string {
  const body = rows.map((row) => [
    row.cell.mode,
    String(row.cell.clients),
    formatNumber(row.tps.direct, 0),
    formatNumber(row.tps.procgate, 0),
    formatNumber(row.tps.pgbouncer, 0),
    formatRatio(row.tps.procgate / row.tps.direct),
    formatRatio(row.tps.procgate / row.tps.pgbouncer),
    row.cell.clients === 1 ? formatNumber(addedLatencyMicros(row), 1) : '',
  ]);
  const table = [[...COLUMNS], ...body];
  const widths = COLUMNS.map((_, column) => Math.max(...table.map((line) => line[column]!.length)));
  // Text left-aligned, numbers right-aligned, as a reader scans them.
  const render = (line: readonly string[]): string =>
    line
      .map((text, column) => (column === 0 ? text.padEnd(widths[column]!) : text.padStart(widths[column]!)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  return [render(table[0]!), rule, ...body.map(render)].join('\n');
}

function formatNumber(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

function formatRatio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}x` : 'n/a';
}

/** The targets procgate is held to; a bar with a missing measurement counts as not met. */
export function checkBars(rows: readonly Row[]): Bar[] {
  const many = rows.filter((row) => row.cell.clients > 1);
  const single = rows.filter((row) => row.cell.clients === 1);
  return [
    bar('procgate >= 0.90x direct at c=8, every mode', many, (row) => row.tps.procgate / row.tps.direct, {
      limit: 0.9,
      atLeast: true,
      unit: 'x',
    }),
    bar(
      'procgate >= 1.00x pgbouncer at c=8, every mode',
      many,
      (row) => row.tps.procgate / row.tps.pgbouncer,
      {
        limit: 1.0,
        atLeast: true,
        unit: 'x',
      },
    ),
    bar('added latency <= 50 µs/tx at c=1, every mode', single, addedLatencyMicros, {
      limit: 50,
      atLeast: false,
      unit: ' µs',
    }),
  ];
}

function bar(
  description: string,
  rows: readonly Row[],
  measure: (row: Row) => number,
  rule: { readonly limit: number; readonly atLeast: boolean; readonly unit: string },
): Bar {
  const values = rows.map((row) => ({ mode: row.cell.mode, value: measure(row) }));
  const passes = (value: number): boolean =>
    Number.isFinite(value) && (rule.atLeast ? value >= rule.limit : value <= rule.limit);
  // Three decimals on ratios, so 0.897x does not read as a passing 0.90x.
  const digits = rule.unit === 'x' ? 3 : 1;
  const detail = values
    .map(
      ({ mode, value }) => `${mode} ${formatNumber(value, digits)}${rule.unit}${passes(value) ? '' : ' (!)'}`,
    )
    .join(', ');
  return { description, met: values.length > 0 && values.every(({ value }) => passes(value)), detail };
}
