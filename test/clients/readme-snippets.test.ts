import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { procgate } from './support/client-session.js';

const execFileAsync = promisify(execFile);
const README = readFileSync('README.md', 'utf8');
const SNIPPETS = 'examples/clients';

/**
 * The README's "Use it from your client" snippets are the files of
 * examples/clients, run here after the quickstart made sensor_stats.
 */
const snippets: readonly { file: string; command: readonly string[]; prints: RegExp }[] = [
  { file: 'pg.mjs', command: [process.execPath], prints: /^run [0-9a-f-]{36}: succeeded$/m },
  { file: 'postgres-js.mjs', command: [process.execPath], prints: /^run [0-9a-f-]{36}: succeeded \{/m },
  {
    file: 'kysely.ts',
    command: [process.execPath, '--import', 'tsx'],
    prints: /^[0-9a-f-]{36} (queued|running|succeeded) \d{4}-/m,
  },
  { file: 'with_psycopg2.py', command: ['/usr/bin/python3'], prints: /^run [0-9a-f-]{36}: succeeded$/m },
  { file: 'with_psycopg.py', command: ['/usr/bin/python3'], prints: /^run [0-9a-f-]{36}: succeeded$/m },
  { file: 'with_sqlalchemy.py', command: ['/usr/bin/python3'], prints: /^run [0-9a-f-]{36}: queued$/m },
  { file: 'with_pyodbc.py', command: ['/usr/bin/python3'], prints: /^sensor_stats succeeded \d+$/m },
  {
    file: 'Runs.java',
    command: ['java', '-cp', '/usr/share/java/postgresql.jar'],
    prints: /^run [0-9a-f-]{36}: succeeded$/m,
  },
];

describe('the README client snippets', () => {
  beforeAll(async () => {
    await execFileAsync('psql', [procgate().url, '-X', '-q', '-f', 'sql-examples/quickstart.sql']);
  });

  it.each(snippets)('$file runs and prints what the README says', async ({ file, command, prints }) => {
    const [program, ...args] = command;
    const { stdout } = await execFileAsync(program!, [...args, path.join(SNIPPETS, file)], {
      env: { ...process.env, PROCGATE_URL: procgate().url },
      timeout: 50_000,
    });
    expect(stdout).toMatch(prints);
  });

  it.each(snippets)('$file is in the README as it is', ({ file }) => {
    const source = readFileSync(path.join(SNIPPETS, file), 'utf8');
    expect(README).toContain(source);
  });
});
