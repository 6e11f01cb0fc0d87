/**
 * SQLSTATE codes procgate raises itself. PostgreSQL raises everything else.
 * @see https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
export const SqlState = {
  syntaxError: '42601',
  undefinedFunction: '42883',
  undefinedTable: '42P01',
  insufficientPrivilege: '42501',
  /** An object of another kind than the statement or run needs (a segment's output that is not a regular file). */
  wrongObjectType: '42809',
  /** A file the statement or run names is missing (PostgreSQL's undefined_file). */
  undefinedFile: '58P01',
  invalidParameterValue: '22023',
  /** A CSV file that cannot be read as one (PostgreSQL's bad_copy_file_format). */
  badCopyFileFormat: '22P04',
  queryCanceled: '57014',
  protocolViolation: '08P01',
  connectionFailure: '08006',
  sqlclientUnableToEstablishSqlconnection: '08001',
  tooManyConnections: '53300',
  cannotConnectNow: '57P03',
  adminShutdown: '57P01',
  featureNotSupported: '0A000',
  activeSqlTransaction: '25001',
  /** Something the statement or run needs is gone or not ready (a run's input snapshot whose engine died). */
  objectNotInPrerequisiteState: '55000',
  internalError: 'XX000',
  /** Raised by PostgreSQL, not procgate: recognised to explain a CALL of ours in a transaction block. */
  invalidTransactionTermination: '2D000',
} as const;

export type SqlState = (typeof SqlState)[keyof typeof SqlState];

/**
 * Leading characters SQLSTATEs share: a class (two characters) or a family
 * within one. Both below mean trouble of the connection or the server, not
 * of a statement's data.
 */
export const SqlStateClass = {
  /** Class 08, connection exception. */
  connectionException: '08',
  /** 57P01..57P05: the server shuts down, crashed, cannot connect now, the database was dropped, an idle session timed out. */
  serverGone: '57P',
} as const;
