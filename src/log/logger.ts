import { pino } from 'pino';

export type Logger = pino.Logger;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Structured JSON logs on stderr; stdout is kept for the one "ready" line. */
export function createLogger(level: LogLevel = 'info'): Logger {
  return pino({ name: 'procgate', level }, pino.destination({ fd: 2, sync: false }));
}

/** A logger that drops everything, for library use and tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
