import { describe, expect, it } from 'vitest';
import { useEngine } from '../support/engine-fixture.js';
import { useProxiedDatabase } from '../support/test-database.js';

const t = useProxiedDatabase('engine_nul_output', { statements: true });

interface RunRow {
  state: string;
  error: string | null;
}

const fixture = useEngine<RunRow>(t);
const { execute, finished } = fixture;

/** PostgreSQL stores no NUL: a program's output holding one must still let its segment end. */
describe('a program printing a NUL byte', () => {
  it('ends its run, the NUL written as U+FFFD', async () => {
    await fixture.client.query(`
      CREATE PROCEDURE nul_printer LANGUAGE command COMMAND 'sh' ARGS ('-c', 'printf "a\\000b\\n"; exit 0')
        EXECUTION MODE NONDISTRIBUTED`);
    const runId = await execute(`EXECUTE PROCEDURE nul_printer()`);
    const row = await finished(runId);
    expect(row.state).toBe('succeeded');
    const { rows } = await fixture.client.query('SELECT line FROM procgate.run_output WHERE run_id = $1', [runId]);
    expect(rows).toEqual([{ line: 'a\uFFFDb' }]);
  });
});
