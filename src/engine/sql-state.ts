import { SqlState } from '../errors/sqlstate.js';
import { TypeParameterError } from './type-parameter-error.js';

/**
 * The SQLSTATE a failed segment reports: a PostgreSQL error's own, or one a
 * built-in type gives (a path outside --files-dir, 42501); a parameter the
 * type finds bad at run time is 22023. Other failures have none.
 */
export function sqlStateOf(error: unknown): string | null {
  if (error instanceof TypeParameterError) return SqlState.invalidParameterValue;
  const { code, cause } = (error ?? {}) as { code?: unknown; cause?: unknown };
  // Node's errno codes (EPERM, ELOOP) look alike; no SQLSTATE class starts with E.
  if (typeof code === 'string' && /^[0-9A-DF-Z][0-9A-Z]{4}$/.test(code)) return code;
  // An error that says what happened in its own words keeps the SQLSTATE of its cause.
  return cause === undefined ? null : sqlStateOf(cause);
}
