import { realpathSync, statSync } from 'node:fs';
import path from 'node:path';

/** USER and LOGNAME of sandboxed programs: their uids have no passwd entry, so `id -un` and getpwuid() find no name. */
export const SANDBOX_USER_NAME = 'procgate-sandbox';

/**
 * A sandboxed program's environment, from the one it would get as
 * procgate's user: a home it can write (its working directory), its own
 * temporary directory, a name, and a PATH without the directories it
 * cannot reach (root's own, say /root/.local/bin), so a command it cannot
 * find is ENOENT rather than EACCES.
 */
export function sandboxEnvironment(
  environment: NodeJS.ProcessEnv,
  { home, tmp }: { readonly home: string; readonly tmp: string },
): NodeJS.ProcessEnv {
  const { PATH: searchPath } = environment;
  return {
    ...environment,
    ...(searchPath === undefined
      ? {}
      : { PATH: reachablePath(searchPath) }),
    HOME: home,
    TMPDIR: tmp,
    USER: SANDBOX_USER_NAME,
    LOGNAME: SANDBOX_USER_NAME,
  };
}

/** PATH values as a sandbox sees them, by the engine's PATH: it seldom changes, and each check is a dozen system calls. */
const reachablePaths = new Map<string, string>();

function reachablePath(searchPath: string): string {
  let reachable = reachablePaths.get(searchPath);
  if (reachable === undefined) {
    reachable = searchPath.split(path.delimiter).filter((dir) => dir !== '' && searchableByOthers(dir)).join(path.delimiter);
    if (reachablePaths.size > 100) reachablePaths.clear();
    reachablePaths.set(searchPath, reachable);
  }
  return reachable;
}

/** Whether a uid that is neither owner nor group of anything on the way can reach into `dir`. */
function searchableByOthers(dir: string): boolean {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch {
    return false;
  }
  for (let at = real; ; at = path.dirname(at)) {
    try {
      const info = statSync(at);
      if (!info.isDirectory() || (info.mode & 0o001) === 0) return false;
    } catch {
      return false;
    }
    if (path.dirname(at) === at) return true;
  }
}
