import { pino } from 'pino';
import { PinoPretty } from 'pino-pretty';

export type Logger = pino.Logger;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `pretty`: a line a person reads (time, level, message, fields); `json`: one JSON object a line, for machines. */
export const LOG_FORMATS = ['pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Pretty on a terminal, JSON when stderr goes to a file, a pipe or a log collector. */
export function defaultLogFormat(): LogFormat {
  return process.stderr.isTTY ? 'pretty' : 'json';
}

/**
 * Logs on stderr; stdout is kept for the one "ready" line. JSON is written
 * asynchronously (pino's sonic-boom); the pretty form is formatted in this
 * process and written synchronously, so a line is never lost at exit and
 * no transport thread is started.
 */
export function createLogger(level: LogLevel = 'info', format: LogFormat = 'json'): Logger {
  if (format === 'json') return pino({ name: 'procgate', level }, pino.destination({ fd: 2, sync: false }));
  return pino(
    { level },
    PinoPretty({
      destination: 2,
      sync: true,
      colorize: process.stderr.isTTY && process.env['NO_COLOR'] === undefined,
      translateTime: 'SYS:HH:MM:ss.l',
      // A component (engine, postgres) leads the message; the logger's `name` is left out.
      ignore: 'pid,hostname,name,component',
      messageFormat: '{if component}{component}: {end}{msg}',
      singleLine: true,
    }),
  );
}

/** A logger that drops everything, for library use and tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
