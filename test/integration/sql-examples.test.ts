import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestDatabase,
  startTestProxy,
  type TestDatabase,
  type TestProxy,
} from '../support/test-database.js';

const execFileAsync = promisify(execFile);
const EXAMPLES = path.resolve('sql-examples');
const scripts = readdirSync(EXAMPLES).filter((name) => name.endsWith('.sql'));

let db: TestDatabase;
let proxy: TestProxy;

beforeAll(async () => {
  db = await createTestDatabase('sql_examples');
  proxy = await startTestProxy();
});

afterAll(async () => {
  await proxy.close();
  await db.drop();
});

/**
 * Every script in sql-examples/ is run with psql through procgate and its
 * output compared with the .expected file beside it (UPDATE_GOLDEN=1 rewrites them).
 */
describe('sql-examples', () => {
  it.each(scripts)('%s gives its expected output', async (script) => {
    const { stdout, stderr } = await execFileAsync('psql', [
      proxy.url(db.name),
      '--no-psqlrc',
      '--echo-all',
      '--set',
      'ON_ERROR_STOP=1',
      '-f',
      path.join(EXAMPLES, script),
    ]);
    const output = stdout + stderr;
    const expectedFile = path.join(EXAMPLES, script.replace(/\.sql$/, '.expected'));
    if (process.env['UPDATE_GOLDEN'] === '1') await writeFile(expectedFile, output);
    expect(output).toBe(await readFile(expectedFile, 'utf8'));
  });
});
