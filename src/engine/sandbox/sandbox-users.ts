import { chmodSync, lchownSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../log/logger.js';
import { processStartTime } from '../../postgres/process-utils.js';
import { killProcessesOf } from './uid-processes.js';

export { killProcessesOf } from './uid-processes.js';

/** An unprivileged OS user a segment's processes run as: a bare uid, its gid the same number. */
export interface SandboxUser {
  readonly uid: number;
  readonly gid: number;
}

/** The uids users' code may run as: `first-last`, inclusive. */
export interface UidRange {
  readonly first: number;
  readonly last: number;
}

/** `--sandbox-uids`' default: far above login users (1000-59999), systemd's dynamic users (61184-65519) and /etc/subuid's usual 100000-165535 ranges. */
export const DEFAULT_UID_RANGE: UidRange = { first: 900_000, last: 900_999 };

/** Parses `first-last` (or one uid); throws RangeError on anything else. */
export function parseUidRange(text: string): UidRange {
  const match = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  const first = Number(match?.[1]);
  const last = Number(match?.[2] ?? match?.[1]);
  const valid = match !== null && Number.isSafeInteger(first) && Number.isSafeInteger(last);
  if (!valid || first < 1000 || last < first || last > 4_294_967_294) {
    throw new RangeError('a uid range is FIRST-LAST, from 1000 up to 4294967294');
  }
  return { first, last };
}

/**
 * Where engines on this machine say which uids they hold: one file per
 * uid, holding the holder's pid and start time. Host-wide (not per data
 * dir), as every procgate on the machine draws from the same uids; in
 * /run, so a reboot clears it.
 */
const HOLDERS_DIRECTORY = '/run/procgate-sandbox-uids';

/**
 * The uids one engine runs users' code as. procgate must be root to
 * switch users; an engine takes `count` uids of the range for its life
 * (no other engine on the machine, nor a later holder, uses them
 * meanwhile) and hands each to one process at a time: a command's
 * program, or a warm javascript process. When a uid is given back, every
 * process still running as it is killed first, so nothing one segment
 * left behind (a daemon, a background job) meets the next.
 *
 * The uids are bare numbers with no passwd entry: no login, no home, no
 * groups. A uid that has a passwd entry is someone's and is skipped.
 */
export class SandboxUsers {
  private readonly free: SandboxUser[];
  /** Busy uids, with the shared temporary directories' mtimes when each was handed out. */
  private readonly busy = new Map<number, (number | undefined)[]>();
  private closed = false;

  private constructor(
    private readonly held: readonly SandboxUser[],
    private readonly logger: Logger,
  ) {
    this.free = [...held];
  }

  /** True when this process can run code as another user. */
  static canSwitchUsers(): boolean {
    return process.getuid?.() === 0;
  }

  /**
   * Takes `count` uids of `range` for this engine; undefined when this
   * process cannot switch users. Throws when the range has too few free.
   */
  static async open(range: UidRange, count: number, logger: Logger): Promise<SandboxUsers | undefined> {
    if (!SandboxUsers.canSwitchUsers()) return undefined;
    await mkdir(HOLDERS_DIRECTORY, { recursive: true, mode: 0o700 });
    const named = namedUids();
    const held: SandboxUser[] = [];
    for (let uid = range.first; uid <= range.last && held.length < count; uid += 1) {
      if (named.has(uid)) continue;
      if (await hold(uid)) {
        // Whatever a crashed predecessor's segments left running as it, or in /tmp, goes now.
        killProcessesOf(uid);
        closeLeftFiles(uid, logger);
        held.push({ uid, gid: uid });
      }
    }
    if (held.length < count) {
      await Promise.all(held.map((user) => letGo(user.uid)));
      throw new Error(
        `--sandbox-uids ${String(range.first)}-${String(range.last)} has ${String(held.length)} free uids, this engine needs ${String(count)}`,
      );
    }
    logger.info({ first: held[0]?.uid, count }, 'users\' code runs as unprivileged uids');
    return new SandboxUsers(held, logger);
  }

  /** A uid no other process of ours runs as now; throws when all are in use (the engine sized the set for its slots). */
  acquire(): SandboxUser {
    if (this.closed) throw new Error('the sandbox users are closed');
    const user = this.free.pop();
    if (user === undefined) throw new Error('no free sandbox uid');
    this.busy.set(user.uid, SHARED_TEMPORARY_DIRECTORIES.map(modifiedAt));
    return user;
  }

  /**
   * Kills whatever still runs as `user`, closes what it left in the
   * machine's shared temporary directories (see closeLeftFiles), then
   * makes it free again. `processesGone`: the caller killed what ran as
   * the uid after its last process exited (killProcessesOf), so no
   * process of it is left to look for. A shared temporary directory whose
   * mtime has not moved since the uid was handed out got no new entry, of
   * this uid or any other, and is not looked through.
   */
  release(user: SandboxUser, { processesGone = false }: { readonly processesGone?: boolean } = {}): void {
    const handedOut = this.busy.get(user.uid);
    if (handedOut === undefined) return;
    this.busy.delete(user.uid);
    const left = processesGone ? 0 : killProcessesOf(user.uid);
    if (left > 0) this.logger.debug({ uid: user.uid, processes: left }, 'killed processes a segment left behind');
    const changed = SHARED_TEMPORARY_DIRECTORIES.filter(
      (directory, index) => handedOut[index] === undefined || modifiedAt(directory) !== handedOut[index],
    );
    closeLeftFiles(user.uid, this.logger, changed);
    this.free.push(user);
  }

  /** Kills every process of every held uid, closes what they left, and lets the uids go. */
  async close(): Promise<void> {
    this.closed = true;
    for (const user of this.held) killProcessesOf(user.uid);
    for (const user of this.held) closeLeftFiles(user.uid, this.logger);
    await Promise.all(this.held.map((user) => letGo(user.uid)));
  }
}

/** World-writable directories where a program may leave files outside its segment's directory. */
const SHARED_TEMPORARY_DIRECTORIES = ['/tmp', '/var/tmp', '/dev/shm'];

/**
 * What a uid left at the top of the shared temporary directories (a
 * program that ignored TMPDIR) is made root's and closed (700) at once,
 * so the uid's next holder, another run's program, cannot read it; it is
 * then removed in the background.
 */
function closeLeftFiles(uid: number, logger: Logger, directories = SHARED_TEMPORARY_DIRECTORIES): void {
  for (const directory of directories) {
    let names: string[];
    try {
      names = readdirSync(directory);
    } catch {
      continue;
    }
    for (const name of names) {
      const entry = path.join(directory, name);
      try {
        const info = lstatSync(entry);
        if (info.uid !== uid) continue;
        lchownSync(entry, 0, 0);
        if (!info.isSymbolicLink()) chmodSync(entry, 0o700);
      } catch {
        // Gone meanwhile.
        continue;
      }
      rm(entry, { recursive: true, force: true }).catch((error: unknown) =>
        logger.warn({ err: error, path: entry }, 'could not remove a file a segment left behind'),
      );
    }
  }
}

/** A directory's mtime (nanoseconds, as a number), undefined when it is not there. */
function modifiedAt(directory: string): number | undefined {
  try {
    return Number(statSync(directory, { bigint: true }).mtimeNs);
  } catch {
    return undefined;
  }
}

/** uids with a passwd entry: a real user's, never ours to run code as. */
function namedUids(): Set<number> {
  const uids = new Set<number>();
  let passwd = '';
  try {
    passwd = readFileSync('/etc/passwd', 'utf8');
  } catch {
    return uids;
  }
  for (const line of passwd.split('\n')) {
    const uid = Number(line.split(':')[2]);
    if (Number.isInteger(uid)) uids.add(uid);
  }
  return uids;
}

function holderFile(uid: number): string {
  return path.join(HOLDERS_DIRECTORY, String(uid));
}

/** Claims `uid` for this process: its holder file made anew, or taken over from a holder that is gone. */
async function hold(uid: number): Promise<boolean> {
  const file = holderFile(uid);
  const me = `${String(process.pid)} ${String(processStartTime(process.pid) ?? 0)}\n`;
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const handle = await open(file, 'wx', 0o600);
      await handle.writeFile(me);
      await handle.close();
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = (await readFile(file, 'utf8').catch(() => '')).trim().split(' ').map(Number);
    const [pid, start] = holder;
    // A holder file younger than a second may still be being written.
    const young = Date.now() - ((await stat(file).catch(() => undefined))?.mtimeMs ?? 0) < 1000;
    if (pid !== undefined && pid > 0 && (processStartTime(pid) === start || (young && holder.length < 2))) return false;
    await rm(file, { force: true });
  }
  return false;
}

async function letGo(uid: number): Promise<void> {
  await rm(holderFile(uid), { force: true });
}
