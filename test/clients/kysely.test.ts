import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { connect, followRun, startRun } from './kysely/app.js';
import { procgate } from './support/client-session.js';

const execFileAsync = promisify(execFile);
const db = connect(procgate().url);
afterAll(() => db.destroy());

describe('kysely through procgate serve', () => {
  it("type-checks the app and the README's kysely snippet against the package's ProcgateDatabase", async () => {
    // The app imports the type from 'procgate', the package's own export (dist/index.d.ts).
    const tsc = path.resolve('node_modules/typescript/bin/tsc');
    const checked = await execFileAsync(process.execPath, [tsc, '-p', 'test/clients/kysely/tsconfig.json']).then(
      () => ({ code: 0, output: '' }),
      (error: { code: number; stdout: string }) => ({ code: error.code, output: error.stdout }),
    );
    expect(checked).toEqual({ code: 0, output: '' });
  });

  it('starts runs through the sql tag and follows them through typed queries of the procgate views', async () => {
    await sql`
      CREATE PROCEDURE kysely_count(n int)
        LANGUAGE javascript
        EXECUTION MODE NONDISTRIBUTED
        FILES ('main.js' = 'export default (ctx) => { for (let i = 1; i <= ctx.params.n; i++) console.log("line " + i); }')`.execute(db);
    const runId = await startRun(db, 'kysely_count', 3);
    const run = await followRun(db, runId);
    expect(run).toMatchObject({ runId, state: 'succeeded', segments: 1, lines: ['line 1', 'line 2', 'line 3'] });
    expect(run.seconds).toBeGreaterThanOrEqual(0);
  });
});
