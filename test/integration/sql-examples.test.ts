import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { TYPES } from '../../src/builtins/index.js';
import { Engine } from '../../src/engine/engine.js';
import { silentLogger } from '../../src/log/logger.js';
import { createTestDatabase, startTestProxy } from '../support/test-database.js';

const execFileAsync = promisify(execFile);
const EXAMPLES = path.resolve('sql-examples');
const scripts = readdirSync(EXAMPLES).filter((name) => name.endsWith('.sql'));

/**
 * Scripts whose runs run: they get an engine on their database, as under
 * `procgate serve`. The others show the statements alone, and their runs
 * stay queued (03 shows a queued run).
 */
const WITH_ENGINE = new Set([
  'quickstart.sql',
  '06-command-procedure.sql',
  '07-javascript-procedure.sql',
  '08-built-in-types.sql',
  '09-classifier.sql',
  '10-kmeans.sql',
  '11-regression.sql',
]);

/**
 * Run ids, timestamps, durations and engine names differ from run to run, and
 * with them the widths of psql's aligned columns: those are compared as
 * placeholders and single spaces.
 */
function stable(output: string): string {
  return output
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>')
    .replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?[+-]\d\d/g, '<timestamp>')
    .replace(/\b\d\d:\d\d:\d\d\.\d+\b/g, '<duration>')
    // An engine is host:pid:random (procgate.runs.worker).
    .replace(/\b[\w.-]+:\d+:[0-9a-f]{6}\b/g, '<engine>')
    .replace(/ {2,}/g, ' ')
    .replace(/-{2,}/g, '--')
    .replace(/--\+--/g, '--');
}

/**
 * Every script in sql-examples/ is run with psql through procgate, as the
 * README says (`psql '<url>' --echo-all -f sql-examples/quickstart.sql`,
 * from the repository's root), and what it prints compared with the
 * .expected file beside it (UPDATE_GOLDEN=1 rewrites them): psql's stdout
 * and stderr (notices, errors) share one pipe, so they come in the order a
 * terminal shows them.
 */
describe('sql-examples', () => {
  it.each(scripts)('%s gives its expected output', async (script) => {
    // Each script gets a database of its own, as a newcomer's fresh procgate would be.
    const db = await createTestDatabase('example');
    const proxy = await startTestProxy({ statements: db });
    const engine = WITH_ENGINE.has(script)
      ? new Engine({ slots: 4, logger: silentLogger(), procedureTypes: TYPES })
      : undefined;
    let output: string;
    try {
      await engine?.start(db.direct);
      // Errors are part of the examples: psql prints them and goes on. No psqlrc: the machine's own settings stay out.
      const { stdout } = await execFileAsync(
        'sh',
        ['-c', 'exec psql "$@" 2>&1', 'psql', proxy.url(db.name), '--no-psqlrc', '--echo-all', '-f', `sql-examples/${script}`],
        { cwd: path.dirname(EXAMPLES), env: { ...process.env, PGAPPNAME: 'sql-examples' } },
      );
      output = stdout;
    } finally {
      await engine?.stop();
      await proxy.close();
      await db.drop();
    }
    const expectedFile = path.join(EXAMPLES, script.replace(/\.sql$/, '.expected'));
    if (process.env['UPDATE_GOLDEN'] === '1') await writeFile(expectedFile, output);
    expect(stable(output)).toBe(stable(await readFile(expectedFile, 'utf8')));
  });
});
