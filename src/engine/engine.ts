import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import pg from 'pg';
import type { EngineIsolation } from '../catalog/index.js';
import type { Logger } from '../log/logger.js';
import { ReconnectingListener } from '../postgres/reconnecting-listener.js';
import type { EngineOptions } from './engine-options.js';
import { ClaimLoop } from './claim-loop.js';
import { CompletionBatcher } from './completion-batcher.js';
import { defaultRunDirectory, EngineDirectory } from './engine-directory.js';
import { CommandExecutor } from './executors/command-executor.js';
import { JavascriptExecutor, javascriptProcesses } from './executors/javascript-executor.js';
import { endedSegment } from './finished-segment.js';
import { InputSnapshots } from './input-snapshots.js';
import { LeaseKeeper } from './lease-keeper.js';
import type { ProcedureType } from './procedure-type.js';
import { BUILT_IN_LANGUAGE, builtInOutputColumns } from './run-built-in.js';
import { isolationOf, warnIfNotIsolated } from './sandbox/isolation.js';
import { DEFAULT_UID_RANGE, SandboxUsers, type UidRange } from './sandbox/sandbox-users.js';
import { SegmentCommitter } from './segment-committer.js';
import { databaseEndpoint } from './segment-logins/database-endpoint.js';
import { sslOf } from './output-session.js';
import { SegmentLogins } from './segment-logins/segment-logins.js';
import { SegmentRunner } from './segment-runner.js';
import { type Executor, StopReason } from './segment-task.js';
import { queueStartupRuns } from './sql/queue-startup-runs.js';
import { registerEngine, unregisterEngine } from './sql/register-engine.js';
import { serverVersion } from './sql/server-version.js';

/** The channel EXECUTE and KILL notify, with the run id as payload. */
const RUNS_CHANNEL = 'procgate_runs';

/**
 * Runs queued segments. PostgreSQL is the coordinator: the engine claims
 * segments with a lease (any number of engines may share a database),
 * renews the lease while they run, commits each segment's end fenced by
 * its (worker, attempt), and sweeps segments whose worker was lost. A
 * LISTEN on `procgate_runs` wakes it the moment a run is submitted or
 * killed; a slow poll covers a missed notification.
 *
 * Each job has its file: claiming (claim-loop.ts), running a segment
 * (segment-runner.ts, with run-with-executor.ts and run-built-in.ts),
 * recording its end (segment-committer.ts), leases (lease-keeper.ts); the
 * SQL of each operation is in sql/.
 *
 * @example
 * const engine = new Engine({ slots: 4, logger, procedureTypes: TYPES });
 * await engine.start('postgres://procgate@localhost/procgate');
 * // ...
 * await engine.stop();
 */
export class Engine {
  readonly workerId: string;
  private readonly slots: number;
  private readonly logger: Logger;
  private readonly leaseMs: number;
  private readonly heartbeatMs: number;
  private readonly pollMs: number;
  private readonly sweepMs: number;
  private readonly keepFailedWorkdirs: boolean;
  private readonly filesDir: string | undefined;
  private readonly procedureTypes: ReadonlyMap<string, ProcedureType>;
  private readonly killGraceMs: number | undefined;
  private readonly sandboxUids: UidRange;
  private readonly trustDevelopers: boolean;
  private javascript: JavascriptExecutor | undefined;
  private command: CommandExecutor | undefined;
  /** This engine's folder in the run directory, made at start and removed at stop. */
  private readonly folder: string;
  private directory: EngineDirectory | undefined;
  private sandbox: SandboxUsers | undefined;
  private pool: pg.Pool | undefined;
  private listener: ReconnectingListener | undefined;
  private claims: ClaimLoop | undefined;
  private leases: LeaseKeeper | undefined;
  private snapshots: InputSnapshots | undefined;
  private timers: NodeJS.Timeout[] = [];
  private stopping = false;

  constructor(options: EngineOptions) {
    if (!Number.isInteger(options.slots) || options.slots < 1) throw new RangeError('slots must be a positive integer');
    this.slots = options.slots;
    this.logger = options.logger.child({ component: 'engine' });
    this.workerId = options.workerId ?? `${hostname()}:${String(process.pid)}:${randomBytes(3).toString('hex')}`;
    this.leaseMs = options.leaseMs ?? 10_000;
    this.heartbeatMs = options.heartbeatMs ?? 2_000;
    this.pollMs = options.pollMs ?? 2_000;
    this.sweepMs = options.sweepMs ?? 2_000;
    this.keepFailedWorkdirs = options.keepFailedWorkdirs ?? false;
    this.filesDir = options.filesDir;
    this.procedureTypes = options.procedureTypes;
    this.folder = EngineDirectory.planned(options.runDirectory ?? defaultRunDirectory());
    this.killGraceMs = options.killGraceMs;
    this.sandboxUids = options.sandboxUids ?? DEFAULT_UID_RANGE;
    this.trustDevelopers = options.trustDevelopers ?? false;
  }

  /** How this engine runs users' code; known once it has started. */
  get isolation(): EngineIsolation {
    return isolationOf(this.sandbox, this.trustDevelopers);
  }

  /** Connects, listens for runs and starts claiming. */
  async start(connection: string | pg.ClientConfig): Promise<void> {
    // A uid for each slot's program and one for each javascript process.
    const uids = this.slots + javascriptProcesses(this.slots);
    this.sandbox = await SandboxUsers.open(this.sandboxUids, uids, this.logger);
    const isolation = this.isolation;
    warnIfNotIsolated(isolation, this.logger);
    let directory: EngineDirectory;
    try {
      // First, as it also removes what engines killed on this machine left behind.
      directory = await EngineDirectory.open(this.folder, this.logger, this.sandbox !== undefined);
    } catch (error) {
      await this.sandbox?.close();
      throw error;
    }
    const executors = this.makeExecutors(directory);
    const config: pg.ClientConfig =
      typeof connection === 'string' ? { connectionString: connection } : { ...connection };
    // Each running segment may hold a connection while its data moves, besides claims, heartbeats and sweeps.
    const pool = new pg.Pool({
      ...config,
      application_name: 'procgate engine',
      max: this.slots + 4,
      // A machine that vanishes mid-transaction must not hold its locks (a run row, the
      // planner's) for ever: TCP keepalives notice a dead peer, and PostgreSQL ends a
      // transaction this engine left idle far longer than any lease.
      keepAlive: true,
      options: `-c idle_in_transaction_session_timeout=${String(Math.max(60_000, this.leaseMs * 6))}`,
    });
    pool.on('error', (error) => this.logger.warn({ err: error }, 'engine connection lost'));
    let listener: ReconnectingListener | undefined;
    try {
      // A lost connection is opened again; a round of claims, heartbeat and sweep then
      // makes up for notifications missed meanwhile, and the safety poll covers the gap.
      listener = await ReconnectingListener.open({
        config: { ...config, application_name: 'procgate engine listener', keepAlive: true },
        channel: RUNS_CHANNEL,
        logger: this.logger,
        onNotification: (payload) => this.onNotification(payload),
        onReconnect: () => this.onNotification(),
      });
      // Before the first claim: CREATE PROCEDURE asks the live engines how they isolate users' code.
      await registerEngine(pool, {
        worker: this.workerId,
        host: hostname(),
        pid: process.pid,
        slots: this.slots,
        isolation,
        leaseMs: this.leaseMs,
      });
    } catch (error) {
      await listener?.close();
      await pool.end().catch(() => undefined);
      await this.javascript?.close();
      await this.sandbox?.close();
      await directory.close(this.logger);
      throw error;
    }
    this.directory = directory;
    this.pool = pool;
    this.listener = listener;
    const committer = new SegmentCommitter({
      pool,
      workerId: this.workerId,
      retryMs: this.heartbeatMs,
      headerMatch: (await serverVersion(pool)) >= 150_000,
      completions: new CompletionBatcher({ db: pool, workerId: this.workerId, logger: this.logger }),
      ssl: sslOf(config),
    });
    const builtIns = { pool, filesDir: this.filesDir, procedureTypes: this.procedureTypes };
    // Programs reach PostgreSQL where the engine does, each as its run's caller.
    const logins = new SegmentLogins({
      pool,
      workerId: this.workerId,
      endpoint: databaseEndpoint(config),
      logger: this.logger,
    });
    const runner = new SegmentRunner({
      pool,
      workerId: this.workerId,
      logger: this.logger,
      executors,
      builtIns,
      committer,
      segmentsDirectory: directory.segments,
      keptDirectory: this.keepFailedWorkdirs ? directory.kept : undefined,
      sandbox: this.sandbox,
      isolation,
      logins,
    });
    // Snapshots of the runs planned here that segments read directly, held while they read.
    const snapshots = new InputSnapshots({ config, pool, logger: this.logger, checkMs: this.heartbeatMs });
    this.snapshots = snapshots;
    const claims = new ClaimLoop({
      pool,
      slots: this.slots,
      workerId: this.workerId,
      leaseMs: this.leaseMs,
      languages: [...executors.keys(), BUILT_IN_LANGUAGE],
      logger: this.logger,
      run: (row, signal) => runner.run(row, signal),
      killQueued: async (row) => {
        const log = this.logger.child({ run_id: row.run_id, segment: row.segment, attempt: row.attempt });
        const completed = await committer.complete(row, endedSegment('killed', 'killed'), log);
        if (completed !== false) log.info('segment killed before it started');
      },
      describeOutput: (client, run, position) => builtInOutputColumns(builtIns, client, run, position),
      snapshots,
    });
    const leases = new LeaseKeeper({
      pool,
      workerId: this.workerId,
      leaseMs: this.leaseMs,
      logger: this.logger,
      claims,
      logins,
    });
    this.claims = claims;
    this.leases = leases;
    this.timers = [
      setInterval(() => claims.wake(), this.pollMs),
      setInterval(() => void leases.heartbeat(), this.heartbeatMs),
      setInterval(() => void leases.sweep(), this.sweepMs),
    ];
    this.logger.info({ worker: this.workerId, slots: this.slots, isolation }, 'engine started');
    // Runs registered with execute_at_startup: each engine start queues one of each.
    try {
      const startup = await queueStartupRuns(pool, this.workerId);
      this.logger.info({ worker: this.workerId, runs: startup.length }, 'startup runs queued');
    } catch (error) {
      this.logger.error({ err: error }, 'could not queue startup runs');
    }
    void leases.sweep();
    claims.wake();
  }

  /**
   * Stops claiming, stops the running segments (they fail with "engine
   * stopped", so no run is left running) and closes the connections.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const timer of this.timers) clearInterval(timer);
    const leasesStopped = this.leases?.stop();
    await this.claims?.stop(StopReason.engineStopped);
    await leasesStopped;
    // Segments elsewhere that have yet to read a run planned here fail: its snapshot goes now.
    await this.snapshots?.close();
    if (this.pool !== undefined) {
      await unregisterEngine(this.pool, this.workerId).catch((error: unknown) =>
        this.logger.warn({ err: error }, 'could not remove the engine from procgate.engines'),
      );
    }
    const executors = [this.javascript?.close(), this.command?.close()];
    await Promise.allSettled([this.listener?.close(), this.pool?.end(), ...executors]);
    // Whatever users' code left running goes with the uids.
    await this.sandbox?.close();
    await this.directory?.close(this.logger);
    this.logger.info({ worker: this.workerId }, 'engine stopped');
  }

  /** The executors of languages command and javascript, working in the engine's folder. */
  private makeExecutors(directory: EngineDirectory): ReadonlyMap<string, Executor> {
    const command = new CommandExecutor({ logger: this.logger, killGraceMs: this.killGraceMs });
    const javascript = new JavascriptExecutor({
      logger: this.logger,
      killGraceMs: this.killGraceMs,
      poolSize: this.slots,
      moduleCacheDirectory: directory.modules,
      sandbox: this.sandbox,
    });
    this.javascript = javascript;
    this.command = command;
    return new Map<string, Executor>([
      [command.language, command],
      [javascript.language, javascript],
    ]);
  }

  /**
   * A run was submitted (or planned, or retried): look for work. A run was
   * killed (`kill:` payload, or none after a reconnect): first stop what
   * runs of it here and sweep, then look for work.
   */
  private onNotification(payload?: string): void {
    if (this.stopping || this.claims === undefined || this.leases === undefined) return;
    if (payload === undefined || payload.startsWith('kill:')) {
      if (this.claims.busy) void this.leases.heartbeat();
      void this.leases.sweep();
    }
    this.claims.wake();
  }
}

export type { EngineOptions } from './engine-options.js';
