import { Command } from 'commander';
import pg from 'pg';
import { TYPES } from '../builtins/index.js';
import { migrate, syncProcedureTypes } from '../catalog/index.js';
import { Engine } from '../engine/engine.js';
import type { UidRange } from '../engine/sandbox/sandbox-users.js';
import { createLogger, defaultLogFormat, type LogFormat, type Logger, type LogLevel } from '../log/logger.js';
import { stopGracefully } from './serve-command.js';
import {
  databaseOption,
  filesDirOption,
  keepFailedWorkdirsOption,
  leaseOption,
  leaseTimings,
  logFormatOption,
  logLevelOption,
  onStopSignal,
  runDirOption,
  sandboxUidsOption,
  slotsOption,
  trustDevelopersOption,
} from './shared-options.js';

interface WorkerOptions {
  readonly database: string;
  readonly slots: number;
  readonly keepFailedWorkdirs?: boolean;
  readonly filesDir?: string;
  readonly runDir?: string;
  readonly sandboxUids: UidRange;
  readonly trustDevelopers?: boolean;
  readonly leaseMs: number;
  readonly logLevel: LogLevel;
  readonly logFormat?: LogFormat;
}

/**
 * `procgate worker`: an engine alone, for more machines. PostgreSQL is the
 * coordinator, so workers need nothing but the database URL: they claim
 * segments of the same runs as `procgate serve` and each other.
 */
export function workerCommand(): Command {
  return new Command('worker')
    .description('run procedures from an existing procgate database, alongside procgate serve')
    .addOption(databaseOption('the PostgreSQL that holds the procgate schema (required)').makeOptionMandatory())
    .addOption(slotsOption())
    .addOption(keepFailedWorkdirsOption())
    .addOption(filesDirOption())
    .addOption(runDirOption(false))
    .addOption(sandboxUidsOption())
    .addOption(trustDevelopersOption())
    .addOption(leaseOption())
    .addOption(logLevelOption())
    .addOption(logFormatOption())
    .action(async (options: WorkerOptions) => {
      await work(options);
    });
}

async function work(options: WorkerOptions): Promise<void> {
  const logger = createLogger(options.logLevel, options.logFormat ?? defaultLogFormat());
  if (options.database === '') {
    process.stderr.write('procgate: --database (or PROCGATE_DATABASE_URL) is required\n');
    process.exitCode = 1;
    return;
  }
  const engine = new Engine({
    slots: options.slots,
    logger,
    keepFailedWorkdirs: options.keepFailedWorkdirs === true,
    filesDir: options.filesDir,
    procedureTypes: TYPES,
    runDirectory: options.runDir,
    sandboxUids: options.sandboxUids,
    trustDevelopers: options.trustDevelopers === true,
    ...leaseTimings(options.leaseMs),
  });
  const starting = startWorker(options.database, engine, logger);
  // Before anything is printed: a signal during the start stops the engine once it has started.
  onStopSignal((signal) =>
    stopGracefully(
      signal,
      async () => {
        if (await starting.then(() => true, () => false)) await engine.stop();
      },
      logger,
    ),
  );
  try {
    await starting;
  } catch (error) {
    const message = `could not start: ${(error as Error).message}`;
    logger.fatal({ err: error }, message);
    process.stderr.write(`procgate: ${message}\n`);
    process.exitCode = 1;
    logger.flush();
    return;
  }
  process.stdout.write(`procgate worker ready: ${engine.workerId} (${String(options.slots)} slots)\n`);
}

async function startWorker(database: string, engine: Engine, logger: Logger): Promise<void> {
  // Idempotent and locked: a worker may well start before any server.
  const client = new pg.Client({ connectionString: database, application_name: 'procgate migrate' });
  await client.connect();
  try {
    await migrate(client, logger);
    await syncProcedureTypes(client, TYPES.values());
  } finally {
    await client.end();
  }
  await engine.start(database);
}
