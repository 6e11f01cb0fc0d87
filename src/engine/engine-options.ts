import type { Logger } from '../log/logger.js';
import type { ProcedureType } from './procedure-type.js';
import type { UidRange } from './sandbox/sandbox-users.js';

/** How an Engine runs: its slots, timings, directories, built-in types and whom users' code runs as. */
export interface EngineOptions {
  /** Segments this engine runs at once. */
  readonly slots: number;
  readonly logger: Logger;
  /** How this engine signs its claims; default host:pid:random. */
  readonly workerId?: string;
  /** A claimed segment is this engine's for this long without a heartbeat. */
  readonly leaseMs?: number;
  readonly heartbeatMs?: number;
  /** The safety poll for queued work, should a notification be missed. */
  readonly pollMs?: number;
  readonly sweepMs?: number;
  /** Between SIGTERM and SIGKILL (javascript: the abort, then the kill) when a segment is stopped. */
  readonly killGraceMs?: number;
  /** Keep the directory of a segment that failed or was killed, for a look at what it left. */
  readonly keepFailedWorkdirs?: boolean;
  /** The directory TYPE 'import.csv' and 'export.csv' read and write; without it they fail. */
  readonly filesDir?: string | undefined;
  /**
   * The built-in procedure types this engine runs (TYPE 'name'), by name:
   * `serve` and `worker` give src/builtins' TYPES; the engine imports none.
   */
  readonly procedureTypes: ReadonlyMap<string, ProcedureType>;
  /**
   * Where the engine keeps its run-time files, in a folder of its own
   * (segments' directories, the javascript module cache; see
   * EngineDirectory); default `<tmpdir>/procgate-<uid>`.
   */
  readonly runDirectory?: string | undefined;
  /**
   * The uids users' code runs as when procgate is root (see SandboxUsers):
   * the engine takes one per slot for commands' programs and one per
   * javascript process (javascriptProcesses); default DEFAULT_UID_RANGE.
   */
  readonly sandboxUids?: UidRange | undefined;
  /**
   * When procgate cannot switch users (not root): members of
   * procgate_developer may still run code, as procgate's own user. Without
   * it such an engine runs only superusers' command and javascript code.
   */
  readonly trustDevelopers?: boolean | undefined;
}
