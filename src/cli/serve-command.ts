import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { UidRange } from '../engine/sandbox/sandbox-users.js';
import { createLogger, defaultLogFormat, type LogFormat, type Logger, type LogLevel } from '../log/logger.js';
import { DataDirBusyError } from '../postgres/data-dir-lock.js';
import { startProcgateServer } from '../server/procgate-server.js';
import { DEFAULT_MAX_MESSAGE_SIZE } from '../wire/protocol.js';
import {
  databaseOption,
  filesDirOption,
  keepFailedWorkdirsOption,
  leaseOption,
  leaseTimings,
  logFormatOption,
  logLevelOption,
  onStopSignal,
  parsePositiveInteger,
  runDirOption,
  sandboxUidsOption,
  slotsOption,
  trustDevelopersOption,
} from './shared-options.js';

interface ServeOptions {
  readonly host: string;
  readonly port: number;
  readonly database?: string;
  readonly dataDir: string;
  readonly password?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly maxMessageSize: number;
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

/** `procgate serve`: the wire front end in front of PostgreSQL. */
export function serveCommand(): Command {
  return new Command('serve')
    .description('serve the PostgreSQL wire protocol in front of an embedded or existing PostgreSQL')
    .addOption(new Option('--host <host>', 'address to listen on').env('PROCGATE_HOST').default('127.0.0.1'))
    .addOption(
      new Option('--port <port>', 'port to listen on (0 picks a free one)')
        .env('PROCGATE_PORT')
        .default(5433)
        .argParser(parsePort),
    )
    .addOption(databaseOption('use this PostgreSQL (version 14 or later) instead of the embedded one'))
    .addOption(
      new Option('--data-dir <dir>', 'where the embedded PostgreSQL keeps its data')
        .env('PROCGATE_DATA_DIR')
        .default('./.procgate'),
    )
    .addOption(
      new Option(
        '--password <password>',
        'password of the embedded superuser "procgate" (default: generated once, kept in the data dir)',
      ).env('PROCGATE_PASSWORD'),
    )
    .addOption(
      new Option('--tls-cert <file>', 'PEM certificate for client TLS (with --tls-key)').env(
        'PROCGATE_TLS_CERT',
      ),
    )
    .addOption(
      new Option('--tls-key <file>', 'PEM private key for client TLS (with --tls-cert)').env(
        'PROCGATE_TLS_KEY',
      ),
    )
    .addOption(
      new Option('--max-message-size <bytes>', 'largest protocol message a client may send')
        .env('PROCGATE_MAX_MESSAGE_SIZE')
        .default(DEFAULT_MAX_MESSAGE_SIZE)
        .argParser(parsePositiveInteger),
    )
    .addOption(slotsOption())
    .addOption(keepFailedWorkdirsOption())
    .addOption(filesDirOption())
    .addOption(runDirOption(true))
    .addOption(sandboxUidsOption())
    .addOption(trustDevelopersOption())
    .addOption(leaseOption())
    .addOption(logLevelOption())
    .addOption(logFormatOption())
    .action(async (options: ServeOptions) => {
      await serve(options);
    });
}

async function serve(options: ServeOptions): Promise<void> {
  const logger = createLogger(options.logLevel, options.logFormat ?? defaultLogFormat());
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) {
    throw new InvalidArgumentError('--tls-cert and --tls-key go together');
  }
  const tls =
    options.tlsCert !== undefined && options.tlsKey !== undefined
      ? { cert: readFileSync(options.tlsCert), key: readFileSync(options.tlsKey) }
      : undefined;

  const starting = startProcgateServer({
    databaseUrl: options.database,
    dataDir: options.dataDir,
    password: options.password,
    host: options.host,
    port: options.port,
    tls,
    maxMessageSize: options.maxMessageSize,
    slots: options.slots,
    keepFailedWorkdirs: options.keepFailedWorkdirs === true,
    filesDir: options.filesDir,
    runDirectory: options.runDir,
    sandboxUids: options.sandboxUids,
    trustDevelopers: options.trustDevelopers === true,
    leaseTimings: leaseTimings(options.leaseMs),
    logger,
  });
  // Before anything is printed: a signal during the start stops what has started, once it has.
  onStopSignal((signal) =>
    stopGracefully(signal, async () => (await starting.catch(() => undefined))?.stop(), logger),
  );
  let server: Awaited<typeof starting>;
  try {
    server = await starting;
  } catch (error) {
    const message =
      error instanceof DataDirBusyError ? error.message : `could not start: ${(error as Error).message}`;
    logger.fatal({ err: error }, message);
    process.stderr.write(`procgate: ${message}\n`);
    process.exitCode = 1;
    logger.flush();
    return;
  }

  logger.info({ host: server.host, port: server.port }, 'procgate ready');
  // Last, so on a terminal the URL to paste is the line the eye finds.
  process.stdout.write(`procgate ready: ${server.url}\n`);
}

/** Logs the shutdown and its end; a failure sets a non-zero exit code. */
export function stopGracefully(signal: NodeJS.Signals, stop: () => Promise<void>, logger: Logger): void {
  logger.info({ signal }, 'shutting down');
  stop().then(
    () => {
      logger.info('stopped');
      logger.flush();
    },
    (error: unknown) => {
      logger.error({ err: error }, 'error while shutting down');
      process.exitCode = 1;
      logger.flush();
    },
  );
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError('not a port number');
  return port;
}
