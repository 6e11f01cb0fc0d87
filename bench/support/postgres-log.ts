import type pg from 'pg';
import { pino } from 'pino';
import type { Logger } from '../../src/log/logger.js';
import { sleep } from './processes.js';

/** One statement PostgreSQL logged with its duration (log_min_duration_statement). */
export interface LoggedStatement {
  /** Backend process id. */
  readonly pid: number;
  /** When it ended (the log line's time, ms since the epoch; the log's resolution is 1 ms). */
  readonly endMs: number;
  readonly durationMs: number;
  /** The statement, or for the extended protocol the portal's query. */
  readonly text: string;
  /** The DETAIL that followed, such as `Parameters: $1 = '...'`. */
  readonly detail: string;
}

/** `2025-01-02 03:04:05.678 UTC [1234] LOG:  ...`, as set by LOG_SETTINGS. */
const PREFIXED = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) UTC \[(\d+)\] ([A-Z]+):\s+(.*)$/;
const DURATION = /^duration: ([\d.]+) ms {2}(?:statement|execute [^:]*): (.*)$/;

/** What PostgreSQL needs for its lines to parse here: statement durations, UTC times with ms, the pid. */
export const LOG_SETTINGS: Readonly<Record<string, string>> = {
  log_min_duration_statement: '0',
  log_line_prefix: '%m [%p] ',
  log_timezone: 'UTC',
};

interface Entry {
  pid: number;
  endMs: number;
  level: string;
  text: string;
  detail: string;
}

/**
 * The embedded cluster logs each line PostgreSQL writes to stderr at debug
 * level through the logger it is given: this one keeps them while
 * `capturing`, and turns duration lines into statements.
 */
export class PostgresLog {
  readonly logger: Logger;
  capturing = false;
  private readonly entries: Entry[] = [];

  constructor() {
    this.logger = pino({ level: 'debug' }, { write: (json: string) => this.onLog(json) });
  }

  /** Statements logged with a duration since the capture began. */
  statements(): LoggedStatement[] {
    const statements: LoggedStatement[] = [];
    for (const entry of this.entries) {
      if (entry.level !== 'LOG') continue;
      const match = DURATION.exec(entry.text);
      if (match === null) continue;
      statements.push({
        pid: entry.pid,
        endMs: entry.endMs,
        durationMs: Number(match[1]),
        text: match[2] ?? '',
        detail: entry.detail,
      });
    }
    return statements;
  }

  clear(): void {
    this.entries.length = 0;
  }

  private onLog(json: string): void {
    if (!this.capturing) return;
    let record: { component?: string; msg?: string };
    try {
      record = JSON.parse(json) as { component?: string; msg?: string };
    } catch {
      return;
    }
    if (record.component !== 'postgres' || typeof record.msg !== 'string') return;
    this.onLine(record.msg);
  }

  /** A line with the prefix starts an entry (a DETAIL belongs to the one before); any other continues the last. */
  private onLine(line: string): void {
    const match = PREFIXED.exec(line);
    const last = this.entries.at(-1);
    if (match === null) {
      if (last === undefined) return;
      if (last.detail !== '') last.detail += `\n${line}`;
      else last.text += `\n${line}`;
      return;
    }
    const [, time, pid, level, text] = match;
    if (level === 'DETAIL' && last !== undefined && last.pid === Number(pid)) {
      last.detail = text ?? '';
      return;
    }
    this.entries.push({
      pid: Number(pid),
      endMs: Date.parse(`${(time ?? '').replace(' ', 'T')}Z`),
      level: level ?? '',
      text: text ?? '',
      detail: '',
    });
  }
}

/** Turns PostgreSQL's statement durations on (LOG_SETTINGS) or off again, and `log`'s capture with them. */
export async function setPostgresLogging(direct: pg.Client, log: PostgresLog, on: boolean): Promise<void> {
  for (const name of Object.keys(LOG_SETTINGS)) {
    await direct.query(on ? `ALTER SYSTEM SET ${name} = '${LOG_SETTINGS[name]!}'` : `ALTER SYSTEM RESET ${name}`);
  }
  await direct.query('SELECT pg_reload_conf()');
  // The postmaster signals the backends; give them a moment to reread.
  await sleep(300);
  log.capturing = on;
}
