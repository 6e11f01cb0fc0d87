import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const execFileAsync = promisify(execFile);
const SCRIPT = path.resolve('scripts/build-if-stale.mjs');

/** A tree shaped like the repository's, with a build of it: the script reads its paths from the working directory. */
const root = mkdtempSync(path.join(os.tmpdir(), 'pgstale-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function write(file: string, secondsAgo = 0): void {
  mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
  writeFileSync(path.join(root, file), 'x');
  const when = Date.now() / 1000 - secondsAgo;
  utimesSync(path.join(root, file), when, when);
}

function age(entry: string, secondsAgo: number): void {
  const when = Date.now() / 1000 - secondsAgo;
  utimesSync(path.join(root, entry), when, when);
}

/** true when `npm start` would build. */
async function stale(): Promise<boolean> {
  return execFileAsync(process.execPath, [SCRIPT, '--check'], { cwd: root }).then(
    () => false,
    () => true,
  );
}

describe('scripts/build-if-stale.mjs (npm start builds only when a source changed)', () => {
  it('tells a build that is up to date from one a changed, added or removed source makes stale', async () => {
    write('src/cli/main.ts', 60);
    write('src/sql/generated/statement-parser.js', 60);
    write('grammar/statements.peggy', 60);
    write('package.json', 60);
    for (const directory of ['src/cli', 'src/sql/generated', 'src/sql', 'src', 'grammar']) age(directory, 60);
    write('dist/cli/main.js', 30);
    expect(await stale(), 'never stamped').toBe(true);
    await execFileAsync(process.execPath, [SCRIPT, '--stamp'], { cwd: root });
    expect(await stale()).toBe(false);

    // The build's own output under src/ does not count.
    write('src/sql/generated/statement-parser.js');
    expect(await stale()).toBe(false);

    write('grammar/statements.peggy');
    expect(await stale(), 'a changed grammar').toBe(true);
    await execFileAsync(process.execPath, [SCRIPT, '--stamp'], { cwd: root });
    expect(await stale()).toBe(false);

    rmSync(path.join(root, 'src/cli/main.ts'));
    expect(await stale(), 'a removed source').toBe(true);
  });
});
