import { SqlStateClass } from '../errors/sqlstate.js';
import { sqlStateOf } from './sql-state.js';

/**
 * A failure of the run itself that PostgreSQL did not raise (planning found
 * an INTO table it cannot create): the run fails with this message and, when
 * given, this SQLSTATE (see sqlStateOf).
 */
export class RunError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * Whether an error belongs to the run, which then fails with its message,
 * or to the engine (a lost connection, a server shutting down, a bug),
 * which then tries again or leaves the segment to the sweeper.
 *
 * The run's: a RunError, and an error with a SQLSTATE (see sqlStateOf:
 * PostgreSQL's, or one a built-in type gives) other than connection trouble
 * (class 08) and the server going away (57P0x). Node's error codes
 * (ECONNRESET, EPIPE, ENOENT) are no SQLSTATEs: those errors are the engine's.
 */
export function isRunError(error: unknown): error is Error & { readonly where?: string } {
  if (error instanceof RunError) return true;
  const code = sqlStateOf(error);
  return (
    code !== null && !code.startsWith(SqlStateClass.connectionException) && !code.startsWith(SqlStateClass.serverGone)
  );
}
