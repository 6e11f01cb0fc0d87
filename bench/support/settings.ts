/** Small helpers the benchmarks share: sizes from the environment, progress lines, the wall clock. */

/** A positive integer from an environment variable, or `fallback` when it is unset or empty. */
export function positiveInteger(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new Error(`${name} must be a positive integer, got ${value}`);
  return parsed;
}

/** A progress line on stderr (the table goes to stdout). */
export function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** This host's wall clock in ms with sub-ms resolution: the clock PostgreSQL's clock_timestamp() reads too. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
