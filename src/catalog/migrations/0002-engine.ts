import { callAndWait } from './0002-engine/call-and-wait.js';
import { environments } from './0002-engine/environments.js';
import { leaseAndComplete } from './0002-engine/lease-and-complete.js';
import { models } from './0002-engine/models.js';
import { planAndClaim } from './0002-engine/plan-and-claim.js';
import { tableData } from './0002-engine/table-data.js';
import { startupRuns } from './0002-engine/startup-runs.js';

/**
 * The engine's side of the schema: owner-rights functions that plan runs
 * into segments, claim them with leases, renew leases, complete segments
 * fenced by (worker, attempt) and sweep lost ones. Only the engine calls
 * them (as the schema owner); nobody else may.
 */
export const sql = [
  tableData,
  planAndClaim,
  leaseAndComplete,
  callAndWait,
  startupRuns,
  environments,
  models,
  `
DO $revoke$
DECLARE
  fn regprocedure;
BEGIN
  FOR fn IN
    SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
     WHERE p.pronamespace = 'procgate_internal'::regnamespace AND pg_catalog.left(p.proname, 7) = 'engine_'
  LOOP
    EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn);
  END LOOP;
END
$revoke$;
`,
].join('\n');
