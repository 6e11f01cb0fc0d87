import { SqlState } from './sqlstate.js';

/** Severity of an ErrorResponse, as PostgreSQL names it. */
export const Severity = {
  error: 'ERROR',
  fatal: 'FATAL',
} as const;

export type Severity = (typeof Severity)[keyof typeof Severity];

export interface PgErrorFields {
  readonly severity?: Severity;
  readonly code: SqlState | string;
  readonly message: string;
  readonly detail?: string;
  readonly hint?: string;
  /** 1-based character position in the client's own statement text. */
  readonly position?: number;
}

/**
 * The one client-facing error type: everything a client sees from procgate
 * itself is one of these, written as an ErrorResponse.
 */
export class PgError extends Error {
  readonly severity: Severity;
  readonly code: string;
  readonly detail: string | undefined;
  readonly hint: string | undefined;
  readonly position: number | undefined;

  constructor(fields: PgErrorFields) {
    super(fields.message);
    this.name = 'PgError';
    this.severity = fields.severity ?? Severity.error;
    this.code = fields.code;
    this.detail = fields.detail;
    this.hint = fields.hint;
    this.position = fields.position;
  }

  /** A FATAL 08P01: the connection is closed after it is sent. */
  static protocolViolation(message: string, detail?: string): PgError {
    return new PgError({ severity: Severity.fatal, code: SqlState.protocolViolation, message, detail });
  }

  /** A FATAL error for when procgate cannot reach PostgreSQL for a session. */
  static backendUnavailable(): PgError {
    return new PgError({
      severity: Severity.fatal,
      code: SqlState.sqlclientUnableToEstablishSqlconnection,
      message: 'procgate could not connect to PostgreSQL',
    });
  }

  /** Internal errors never leak details: they are logged and shown as XX000. */
  static internal(): PgError {
    return new PgError({ code: SqlState.internalError, message: 'internal error in procgate' });
  }
}
