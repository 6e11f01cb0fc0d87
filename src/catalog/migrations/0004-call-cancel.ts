import { callAndWaitSql } from './0002-engine/call-and-wait.js';

/**
 * CALL's cancel kills its run even when one CancelRequest interrupts the
 * backend twice (found with pgjdbc's Statement.cancel()): call_and_wait
 * retries the kill instead of letting the second interrupt roll it back.
 */
export const sql = callAndWaitSql('CREATE OR REPLACE');
