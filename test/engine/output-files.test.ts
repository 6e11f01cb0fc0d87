import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResolvedOutput } from '../../src/engine/planned-tables.js';
import type { TableFile } from '../../src/engine/segment-task.js';
import { loadOutputFiles } from '../../src/engine/output-files.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

/*
 * The engine reads a segment's output files back with its own rights: a
 * program must not make it read anything but the file it was given.
 */

let db: TestDatabase;
let client: pg.Client;
const directory = mkdtempSync(path.join(tmpdir(), 'procgate-outputs-'));
const columns = [{ name: 'n', type: 'integer', typeOid: 23 }];
const output: ResolvedOutput = { name: 'numbers', table: 'public.numbers', columns };

beforeAll(async () => {
  db = await createTestDatabase('engine_output_files');
  client = new pg.Client(db.direct);
  await client.connect();
  await client.query('CREATE TABLE numbers (n integer)');
});

afterAll(async () => {
  await client.end();
  await db.drop();
  rmSync(directory, { recursive: true, force: true });
});

/** Loads `file` as the numbers output in a transaction rolled back afterwards; gives the rows loaded. */
async function load(file: string): Promise<number> {
  const files: TableFile[] = [{ name: 'numbers', path: file, columns }];
  await client.query('BEGIN');
  try {
    return await loadOutputFiles(client, [output], files, 'csv', true);
  } finally {
    await client.query('ROLLBACK');
  }
}

describe('loading output files', () => {
  it('loads a regular file, and takes a missing or empty one for no rows', async () => {
    const written = path.join(directory, 'written.csv');
    writeFileSync(written, 'n\n1\n2\n');
    expect(await load(written)).toBe(2);
    expect(await load(path.join(directory, 'missing.csv'))).toBe(0);
    const empty = path.join(directory, 'empty.csv');
    writeFileSync(empty, '');
    expect(await load(empty)).toBe(0);
  });

  it('refuses a link, a directory or a pipe in place of the file (42809)', async () => {
    const secret = path.join(directory, 'secret.csv');
    writeFileSync(secret, 'n\n42\n');
    const link = path.join(directory, 'link.csv');
    symlinkSync(secret, link);
    const folder = path.join(directory, 'folder.csv');
    mkdirSync(folder);
    const pipe = path.join(directory, 'pipe.csv');
    execFileSync('mkfifo', [pipe]);
    for (const file of [link, folder, pipe]) {
      await expect(load(file), file).rejects.toMatchObject({
        code: '42809',
        message: expect.stringMatching(/^the output file of numbers is not a regular file/),
      });
    }
  });
});
