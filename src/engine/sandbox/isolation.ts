import { type EngineIsolation } from '../../catalog/index.js';
import { SqlState } from '../../errors/sqlstate.js';
import type { Logger } from '../../log/logger.js';
import { endedSegment, type FinishedSegment } from '../finished-segment.js';
import type { ClaimedSegment } from '../sql/claim-segments.js';
import { procedureOwner } from '../sql/procedure-owner.js';
import type { Queryable } from '../sql/queryable.js';
import type { SandboxUsers } from './sandbox-users.js';

/**
 * How an engine runs users' code (procgate.engines.isolation):
 *
 * - `uid`: procgate is root, so each program runs as an unprivileged uid
 *   of its own (SandboxUsers);
 * - `trusted`: procgate cannot switch users, and --trust-developers says
 *   members of procgate_developer may run code as procgate's own user;
 * - `none`: procgate cannot switch users: only code owned by superusers
 *   runs (they have procgate's rights already), and non-superusers cannot
 *   create command or javascript procedures while no engine isolates.
 */
export function isolationOf(sandbox: SandboxUsers | undefined, trustDevelopers: boolean): EngineIsolation {
  if (sandbox !== undefined) return 'uid';
  return trustDevelopers ? 'trusted' : 'none';
}

/** The hint a refusal gives, at CREATE (the schema's check_kind) and at run time here. */
export const ISOLATION_HINT =
  'start procgate as root, so programs run as unprivileged users, or with --trust-developers to let members of procgate_developer run code as procgate\'s own user';

/** Says at start what an engine that cannot switch users does with users' code. */
export function warnIfNotIsolated(isolation: EngineIsolation, logger: Logger): void {
  if (isolation === 'uid') return;
  const uid = process.getuid?.();
  if (isolation === 'trusted') {
    logger.warn(
      { isolation, uid },
      'users\' code runs as procgate\'s own user (not root: no switching users); --trust-developers lets members of procgate_developer run code with procgate\'s rights',
    );
  } else {
    logger.warn(
      { isolation, uid },
      'users\' code runs as procgate\'s own user (not root: no switching users), so only superusers\' command and javascript procedures run here; --trust-developers lets members of procgate_developer run theirs too',
    );
  }
}

/**
 * Before anything of the segment runs: an engine that isolates nothing
 * runs command and javascript code only when a superuser owns it. A
 * procedure created while another engine isolated, or given to another
 * owner since, fails here with 42501.
 */
export async function refusedByIsolation(
  db: Queryable,
  isolation: EngineIsolation,
  row: ClaimedSegment,
): Promise<FinishedSegment | undefined> {
  if (isolation !== 'none') return undefined;
  const owner = await procedureOwner(db, row.procedure_id);
  if (owner?.superuser === true) return undefined;
  return endedSegment(
    'failed',
    `permission denied to run procedure "${owner?.name ?? ''}" of language ${row.language}: this engine runs users' code as its own user, and its owner "${owner?.owner ?? ''}" is not a superuser (${ISOLATION_HINT})`,
    SqlState.insufficientPrivilege,
  );
}
