import { availableParallelism } from 'node:os';
import { InvalidArgumentError, Option } from 'commander';
import { LOG_LEVELS } from '../log/logger.js';

/** Options that `serve` and `worker` share, so both read the same flags and environment. */

export function databaseOption(description: string): Option {
  return new Option('--database <url>', description).env('PROCGATE_DATABASE_URL');
}

export function slotsOption(): Option {
  return new Option('--slots <n>', 'segments of runs the engine runs at once')
    .env('PROCGATE_SLOTS')
    .default(availableParallelism(), `the number of CPUs, ${String(availableParallelism())}`)
    .argParser(parsePositiveInteger);
}

export function keepFailedWorkdirsOption(): Option {
  return new Option(
    '--keep-failed-workdirs',
    "keep the directory of a segment that failed or was killed (its files, control file and data), for a look at what went wrong; the engine's log names it",
  ).env('PROCGATE_KEEP_FAILED_WORKDIRS');
}

export function logLevelOption(): Option {
  return new Option('--log-level <level>', 'structured log level on stderr')
    .env('PROCGATE_LOG_LEVEL')
    .default('info')
    .choices(LOG_LEVELS);
}

export function parsePositiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number <= 0) throw new InvalidArgumentError('not a positive integer');
  return number;
}

/** Runs `stop` once on the first SIGINT or SIGTERM. */
export function onStopSignal(stop: (signal: NodeJS.Signals) => void): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    stop(signal);
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
}
