import { chmodSync, chownSync, closeSync, fchmodSync, fchownSync, lstatSync, mkdirSync, openSync, readdirSync } from 'node:fs';
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
 *
 * The dozen or so calls are made synchronously: each is a quick change of
 * metadata, and a trip through libuv's thread pool costs several times
 * the call itself (a javascript segment's hand-over: ~1 ms asynchronous,
 * ~0.2 ms synchronous).
 */
export async function handOverDirectory(
  directory: string,
  user: SandboxUser,
  outputs: readonly string[],
): Promise<void> {
  const ownWork = new Set(['work', 'tmp']);
  mkdirSync(path.join(directory, 'tmp'), { recursive: true, mode: 0o700 });
  for (const name of readdirSync(directory)) {
    const entry = path.join(directory, name);
    if (ownWork.has(name)) giveTree(entry, user);
    else shareTree(entry, user.gid);
  }
  for (const output of outputs) {
    const fd = openSync(output, 'a', 0o660);
    try {
      fchownSync(fd, 0, user.gid);
      fchmodSync(fd, 0o660);
    } finally {
      closeSync(fd);
    }
  }
  chownSync(directory, 0, user.gid);
  chmodSync(directory, 0o750);
}

/** root's, readable (directories: listable) by the group, writable by no one else. */
function shareTree(entry: string, gid: number): void {
  const info = lstatSync(entry);
  if (info.isSymbolicLink()) return;
  chownSync(entry, 0, gid);
  if (info.isDirectory()) {
    chmodSync(entry, 0o750);
    for (const name of readdirSync(entry)) shareTree(path.join(entry, name), gid);
  } else {
    chmodSync(entry, info.mode & 0o100 ? 0o750 : 0o640);
  }
}

/** The user's own, as if it had made it: modes kept (a script stays executable), links not followed. */
function giveTree(entry: string, user: SandboxUser): void {
  const info = lstatSync(entry);
  if (info.isSymbolicLink()) return;
  chownSync(entry, user.uid, user.gid);
  if (info.isDirectory()) {
    chmodSync(entry, 0o700);
    for (const name of readdirSync(entry)) giveTree(path.join(entry, name), user);
  }
}
