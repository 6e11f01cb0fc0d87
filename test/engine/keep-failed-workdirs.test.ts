import { existsSync, readFileSync, rmSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useEngine } from '../support/engine-fixture.js';
import { eventually, useProxiedDatabase } from '../support/test-database.js';

const t = useProxiedDatabase('engine_keep_workdirs', { statements: true });
const fixture = useEngine<{ state: string; error: string | null }>(t, { keepFailedWorkdirs: true });

/** Segment directories in the temp dir whose control file names the run. */
async function directoriesOf(runId: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(tmpdir())) {
    if (!entry.startsWith('procgate-segment-')) continue;
    const control = path.join(tmpdir(), entry, 'control.json');
    if (existsSync(control) && readFileSync(control, 'utf8').includes(runId)) found.push(path.join(tmpdir(), entry));
  }
  return found;
}

const kept: string[] = [];
afterAll(() => {
  for (const directory of kept) rmSync(directory, { recursive: true, force: true });
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
    kept.push(...directories);
    expect(directories).toHaveLength(1);
    const directory = directories[0]!;
    expect(existsSync(path.join(directory, 'work', 'exit.py'))).toBe(true);
    expect(readFileSync(path.join(directory, 'input-1.csv'), 'utf8')).toBe('id\n1\n2\n3\n');

    const succeeded = await fixture.execute('EXECUTE PROCEDURE exits(code => 0, t => TABLE (few)) WITH (segments = 1)');
    expect(await fixture.finished(succeeded)).toMatchObject({ state: 'succeeded' });
    // The engine removes it right after recording the end.
    expect(await eventually(() => directoriesOf(succeeded), (found) => found.length === 0, 3000)).toEqual([]);
  });
});
