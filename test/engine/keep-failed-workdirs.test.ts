import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useEngine } from '../support/engine-fixture.js';
import { eventually, useProxiedDatabase } from '../support/test-database.js';

const t = useProxiedDatabase('engine_keep_workdirs', { statements: true });
const runDirectory = mkdtempSync(path.join(tmpdir(), 'procgate-keep-'));
const fixture = useEngine<{ state: string; error: string | null }>(t, { keepFailedWorkdirs: true, runDirectory });

/** Segment directories under the run directory (kept, or still in an engine's folder) whose control file names the run. */
async function directoriesOf(runId: string): Promise<string[]> {
  const found: string[] = [];
  const parents = [path.join(runDirectory, 'kept')];
  for (const entry of await readdir(runDirectory)) {
    if (entry.startsWith('engine.')) parents.push(path.join(runDirectory, entry, 'segments'));
  }
  for (const parent of parents) {
    if (!existsSync(parent)) continue;
    for (const entry of await readdir(parent)) {
      const control = path.join(parent, entry, 'control.json');
      if (existsSync(control) && readFileSync(control, 'utf8').includes(runId)) found.push(path.join(parent, entry));
    }
  }
  return found;
}

afterAll(() => {
  rmSync(runDirectory, { recursive: true, force: true });
});

describe('--keep-failed-workdirs', () => {
  it('keeps the directory of a failed segment, with its files and input, and removes a succeeded one', async () => {
    await fixture.client.query('CREATE TABLE few AS SELECT g AS id FROM generate_series(1, 3) g');
    await fixture.client.query(
      `CREATE PROCEDURE exits(code int, t TABLE) LANGUAGE command COMMAND 'python3' ARGS ('exit.py')
         FILES ('exit.py' = $py$
import json, os, sys
sys.exit(json.load(open(os.environ['PROCGATE_CONTROL_FILE']))['params']['code']['value'])
$py$)`,
    );
    const failed = await fixture.execute('EXECUTE PROCEDURE exits(code => 3, t => TABLE (few)) WITH (segments = 1)');
    expect(await fixture.finished(failed)).toMatchObject({ state: 'failed' });
    const directories = await directoriesOf(failed);
    expect(directories).toHaveLength(1);
    const directory = directories[0]!;
    // Moved out of the engine's folder, which goes when the engine stops.
    expect(path.dirname(directory)).toBe(path.join(runDirectory, 'kept'));
    expect(existsSync(path.join(directory, 'work', 'exit.py'))).toBe(true);
    expect(readFileSync(path.join(directory, 'input-1.csv'), 'utf8')).toBe('id\n1\n2\n3\n');

    const succeeded = await fixture.execute('EXECUTE PROCEDURE exits(code => 0, t => TABLE (few)) WITH (segments = 1)');
    expect(await fixture.finished(succeeded)).toMatchObject({ state: 'succeeded' });
    // The engine removes it right after recording the end.
    expect(await eventually(() => directoriesOf(succeeded), (found) => found.length === 0, 3000)).toEqual([]);
  });
});
