import { checkTypeInvocationSql } from './0001-catalog/procedure-types.js';

/**
 * EXECUTE of a TYPE procedure that declares its own parameter list checks
 * the arguments against the type as well: a declared parameter the type
 * does not take, or of another kind, and a required one left out, are
 * 22023 at EXECUTE instead of a failed run.
 */
export const sql = checkTypeInvocationSql('CREATE OR REPLACE');
