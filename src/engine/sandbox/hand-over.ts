import { chmod, chown, lstat, mkdir, open, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { SandboxUser } from './sandbox-users.js';

/**
 * Lays a segment's directory out for a program running as `user`, once
 * the engine has written everything the program reads:
 *
 * - the directory itself stays root's, readable by the user's group but
 *   not writable: the program cannot add, remove, rename or replace
 *   anything in it, so the paths the engine reads back (the outputs) are
 *   the files the engine made, never a link the program planted;
 * - what the engine wrote (input files, the control file, parameter
 *   files) is root's and group-readable;
 * - each output file is made empty, root's and group-writable: the
 *   program writes it in place (open for writing, truncate), and cannot
 *   swap it for anything else;
 * - `work/` (the procedure's FILES) and `tmp/` (TMPDIR) are the user's
 *   own, mode 700.
 *
 * Nothing here is readable by any other uid: another segment's program
 * runs as another uid, in another group.
 */
export async function handOverDirectory(
  directory: string,
  user: SandboxUser,
  outputs: readonly string[],
): Promise<void> {
  const ownWork = new Set(['work', 'tmp']);
  await mkdir(path.join(directory, 'tmp'), { recursive: true, mode: 0o700 });
  for (const name of await readdir(directory)) {
    const entry = path.join(directory, name);
    if (ownWork.has(name)) await giveTree(entry, user);
    else await shareTree(entry, user.gid);
  }
  for (const output of outputs) {
    const handle = await open(output, 'a', 0o660);
    await handle.chown(0, user.gid);
    await handle.chmod(0o660);
    await handle.close();
  }
  await chown(directory, 0, user.gid);
  await chmod(directory, 0o750);
}

/** root's, readable (directories: listable) by the group, writable by no one else. */
async function shareTree(entry: string, gid: number): Promise<void> {
  const info = await lstat(entry);
  if (info.isSymbolicLink()) return;
  await chown(entry, 0, gid);
  if (info.isDirectory()) {
    await chmod(entry, 0o750);
    for (const name of await readdir(entry)) await shareTree(path.join(entry, name), gid);
  } else {
    await chmod(entry, info.mode & 0o100 ? 0o750 : 0o640);
  }
}

/** The user's own, as if it had made it: modes kept (a script stays executable), links not followed. */
async function giveTree(entry: string, user: SandboxUser): Promise<void> {
  const info = await lstat(entry);
  if (info.isSymbolicLink()) return;
  await chown(entry, user.uid, user.gid);
  if (info.isDirectory()) {
    await chmod(entry, 0o700);
    for (const name of await readdir(entry)) await giveTree(path.join(entry, name), user);
  }
}
