// `npm start`'s first step: build only when a source is newer than the last
// build, so a restart with nothing changed costs a directory walk, not a
// TypeScript build. `npm run build` ends by writing the stamp (--stamp);
// `--check` only tells, by its exit code (1: a build is due).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const STAMP = 'dist/.build-stamp';
/** What the build reads; src/sql/generated is its own output (from grammar/). */
const INPUTS = ['src', 'grammar', 'scripts/copy-schema.mjs', 'tsconfig.json', 'package.json', 'package-lock.json'];
const GENERATED = path.join('src', 'sql', 'generated');

/** The newest modification time under `entry`; a directory's own time counts, so a removed file shows. */
function newest(entry) {
  if (entry === GENERATED || !existsSync(entry)) return 0;
  const info = statSync(entry);
  if (!info.isDirectory()) return info.mtimeMs;
  let latest = info.mtimeMs;
  for (const name of readdirSync(entry)) latest = Math.max(latest, newest(path.join(entry, name)));
  return latest;
}

function stale() {
  if (!existsSync(STAMP) || !existsSync('dist/cli/main.js')) return true;
  const built = statSync(STAMP).mtimeMs;
  return INPUTS.some((input) => newest(input) > built);
}

const [mode] = process.argv.slice(2);
if (mode === '--stamp') {
  writeFileSync(STAMP, `${new Date().toISOString()}\n`);
} else if (mode === '--check') {
  process.exitCode = stale() ? 1 : 0;
} else if (stale()) {
  process.stdout.write('procgate: sources changed since the last build, building (npm run build)\n');
  const build = spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
  process.exitCode = build.status ?? 1;
}
