import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createLogger, LOG_LEVELS, type LogLevel } from '../log/logger.js';
import { DataDirBusyError } from '../postgres/data-dir-lock.js';
import { startProcgateServer } from '../server/procgate-server.js';
import { DEFAULT_MAX_MESSAGE_SIZE } from '../wire/protocol.js';

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
  readonly logLevel: LogLevel;
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
    .addOption(
      new Option(
        '--database <url>',
        'use this PostgreSQL (version 14 or later) instead of the embedded one',
      ).env('PROCGATE_DATABASE_URL'),
    )
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
    .addOption(
      new Option('--slots <n>', 'segments of runs the engine runs at once')
        .env('PROCGATE_SLOTS')
        .default(availableParallelism(), `the number of CPUs, ${String(availableParallelism())}`)
        .argParser(parsePositiveInteger),
    )
    .addOption(
      new Option('--log-level <level>', 'structured log level on stderr')
        .env('PROCGATE_LOG_LEVEL')
        .default('info')
        .choices(LOG_LEVELS),
    )
    .action(async (options: ServeOptions) => {
      await serve(options);
    });
}

async function serve(options: ServeOptions): Promise<void> {
  const logger = createLogger(options.logLevel);
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) {
    throw new InvalidArgumentError('--tls-cert and --tls-key go together');
  }
  const tls =
    options.tlsCert !== undefined && options.tlsKey !== undefined
      ? { cert: readFileSync(options.tlsCert), key: readFileSync(options.tlsKey) }
      : undefined;

  let server: Awaited<ReturnType<typeof startProcgateServer>>;
  try {
    server = await startProcgateServer({
      databaseUrl: options.database,
      dataDir: options.dataDir,
      password: options.password,
      host: options.host,
      port: options.port,
      tls,
      maxMessageSize: options.maxMessageSize,
      slots: options.slots,
      logger,
    });
  } catch (error) {
    const message =
      error instanceof DataDirBusyError ? error.message : `could not start: ${(error as Error).message}`;
    logger.fatal({ err: error }, message);
    process.stderr.write(`procgate: ${message}\n`);
    process.exitCode = 1;
    logger.flush();
    return;
  }

  process.stdout.write(`procgate ready: ${server.url}\n`);
  logger.info({ host: server.host, port: server.port }, 'procgate ready');

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    server.stop().then(
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
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError('not a port number');
  return port;
}

function parsePositiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number <= 0) throw new InvalidArgumentError('not a positive integer');
  return number;
}
