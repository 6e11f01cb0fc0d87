import { type CommandResult, runChecked, runCommand } from './processes.js';

/** A server pgbench talks to over loopback TCP. */
export interface Target {
  readonly name: TargetName;
  readonly host: string;
  readonly port: number;
}

export const TARGET_NAMES = ['direct', 'procgate', 'pgbouncer'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

export const QUERY_MODES = ['simple', 'extended', 'prepared'] as const;
export type QueryMode = (typeof QUERY_MODES)[number];

/** Who pgbench logs in as, and into which database. */
export interface Credentials {
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

export interface RunSpec {
  readonly mode: QueryMode;
  readonly clients: number;
  readonly threads: number;
  readonly seconds: number;
}

/** A pgbench run that ended badly; the output is kept to report it precisely. */
export class PgbenchError extends Error {
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(message);
    this.name = 'PgbenchError';
  }
}

/**
 * The environment pgbench runs with: inherited PG* variables are dropped so
 * nothing but our arguments picks the server, and SSL is off so the direct
 * connection is as unencrypted as the two proxied ones.
 */
function pgEnv(credentials: Credentials): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('PG')) env[key] = value;
  return { ...env, PGPASSWORD: credentials.password, PGSSLMODE: 'disable', LC_MESSAGES: 'C' };
}

function connectionArgs(target: Omit<Target, 'name'>, credentials: Credentials): string[] {
  return ['-h', target.host, '-p', String(target.port), '-U', credentials.user];
}

/** Runs one SQL command with psql (`-X`: no ~/.psqlrc); the caller judges the result. */
export function runPsql(
  target: Target | Omit<Target, 'name'>,
  credentials: Credentials,
  sql: string,
  database = credentials.database,
): Promise<CommandResult> {
  return runCommand(
    'psql',
    ['-X', '-q', '-v', 'ON_ERROR_STOP=1', ...connectionArgs(target, credentials), '-d', database, '-c', sql],
    { env: pgEnv(credentials) },
  );
}

/** `pgbench -i`: creates and fills the pgbench tables at `scale` (done once, directly). */
export async function initialisePgbench(
  target: Target,
  credentials: Credentials,
  scale: number,
): Promise<void> {
  await runChecked(
    'pgbench',
    ['-i', '-s', String(scale), '-q', ...connectionArgs(target, credentials), credentials.database],
    { env: pgEnv(credentials) },
  );
}

/** Runs the select-only workload once and returns its tps (without initial connection time). */
export async function runSelectOnly(
  target: Target,
  credentials: Credentials,
  spec: RunSpec,
): Promise<number> {
  const args = [
    '-n',
    '-S',
    '-M',
    spec.mode,
    '-c',
    String(spec.clients),
    '-j',
    String(spec.threads),
    '-T',
    String(spec.seconds),
    ...connectionArgs(target, credentials),
    credentials.database,
  ];
  const result = await runCommand('pgbench', args, { env: pgEnv(credentials) });
  const output = `${result.stdout}${result.stderr}`;
  // pgbench exits 2 when a client aborted, and still prints a (partial) tps then: that is a failure here.
  if (result.code !== 0) {
    throw new PgbenchError(`pgbench ${args.join(' ')} exited with code ${result.code}`, output);
  }
  const failed = failedTransactions(output);
  if (failed > 0) throw new PgbenchError(`pgbench reported ${failed} failed transactions`, output);
  return parseTps(output);
}

/** The `tps = N (without initial connection time)` figure of pgbench's summary. */
export function parseTps(output: string): number {
  const match = /^tps = ([\d.]+) \(without initial connection time\)$/m.exec(output);
  if (match?.[1] === undefined) throw new PgbenchError('no tps line in pgbench output', output);
  return Number.parseFloat(match[1]);
}

/** pgbench 15+ counts failed (serialization/deadlock) transactions; older ones print no such line. */
function failedTransactions(output: string): number {
  const match = /^number of failed transactions: (\d+)/m.exec(output);
  return match?.[1] === undefined ? 0 : Number.parseInt(match[1], 10);
}
