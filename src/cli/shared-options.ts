import { availableParallelism } from 'node:os';
import { InvalidArgumentError, Option } from 'commander';
import { DEFAULT_UID_RANGE, parseUidRange, type UidRange } from '../engine/sandbox/sandbox-users.js';
import { LOG_FORMATS, LOG_LEVELS } from '../log/logger.js';

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

export function filesDirOption(): Option {
  return new Option(
    '--files-dir <dir>',
    'the directory whose files TYPE \'import.csv\' and \'export.csv\' read and write (paths are relative to it, and cannot leave it); without it those types fail',
  ).env('PROCGATE_FILES_DIR');
}

export function runDirOption(embeddedDefault: boolean): Option {
  const where = embeddedDefault
    ? '<data-dir>/run with the embedded PostgreSQL, else <tmpdir>/procgate-<uid>'
    : '<tmpdir>/procgate-<uid>';
  return new Option(
    '--run-dir <dir>',
    `where the engine keeps its run-time files (segments' working directories and table files, the javascript module cache), in a folder of its own removed when it stops; an engine removes what killed engines left there (default: ${where})`,
  ).env('PROCGATE_RUN_DIR');
}

export function sandboxUidsOption(): Option {
  const { first, last } = DEFAULT_UID_RANGE;
  return new Option(
    '--sandbox-uids <first-last>',
    "when procgate runs as root: the uids users' programs run as (an engine takes two per slot and two more), each segment's program as one of its own (bare uids: any with a passwd entry is skipped; engines on one machine never share one)",
  )
    .env('PROCGATE_SANDBOX_UIDS')
    .default(DEFAULT_UID_RANGE, `${String(first)}-${String(last)}`)
    .argParser(parseUidRangeArgument);
}

export function trustDevelopersOption(): Option {
  return new Option(
    '--trust-developers',
    "when procgate cannot switch users (not root): let members of procgate_developer create and run command and javascript procedures anyway, their code running as procgate's own user with its rights (without it, only superusers' code runs)",
  ).env('PROCGATE_TRUST_DEVELOPERS');
}

function parseUidRangeArgument(value: string): UidRange {
  try {
    return parseUidRange(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** Engine defaults: a 10 s lease, renewed every fifth of it. */
const DEFAULT_LEASE_MS = 10_000;

/**
 * Advanced: how soon a lost engine's segments are taken over. A shorter
 * lease finds a crashed engine sooner at the price of more heartbeats;
 * tests use it to watch crash recovery without waiting.
 */
export function leaseOption(): Option {
  return new Option(
    '--lease-ms <ms>',
    "advanced: how long a claimed segment stays this engine's without a heartbeat, after which another engine retries or fails it (\"worker lost\"); the engine renews leases every fifth of it",
  )
    .env('PROCGATE_LEASE_MS')
    .default(DEFAULT_LEASE_MS)
    .argParser(parsePositiveInteger);
}

/** The engine's timings for a lease: renewed five times a lease, lost segments looked for twice a lease (at least every 2 s). */
export function leaseTimings(leaseMs: number): { leaseMs: number; heartbeatMs: number; sweepMs: number } {
  return { leaseMs, heartbeatMs: Math.ceil(leaseMs / 5), sweepMs: Math.min(2_000, Math.ceil(leaseMs / 2)) };
}

export function logLevelOption(): Option {
  return new Option('--log-level <level>', 'structured log level on stderr')
    .env('PROCGATE_LOG_LEVEL')
    .default('info')
    .choices(LOG_LEVELS);
}

export function logFormatOption(): Option {
  return new Option(
    '--log-format <format>',
    'log lines for a person (pretty) or for a machine (json, one object a line); default: pretty when stderr is a terminal, else json',
  )
    .env('PROCGATE_LOG_FORMAT')
    .choices(LOG_FORMATS);
}

export function parsePositiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number <= 0) throw new InvalidArgumentError('not a positive integer');
  return number;
}

/**
 * Runs `stop` once, on the first SIGINT or SIGTERM; later ones are ignored
 * rather than left to kill the process halfway through its stop. Ctrl-C in
 * a terminal under `npm start` delivers SIGINT twice: the terminal sends it
 * to the whole foreground group, and npm forwards its own copy.
 */
export function onStopSignal(stop: (signal: NodeJS.Signals) => void): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    stop(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
