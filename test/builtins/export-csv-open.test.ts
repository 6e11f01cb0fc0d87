import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openOutputFile } from '../../src/builtins/csv/export-csv.js';
import { isRunError } from '../../src/engine/run-error.js';
import { sqlStateOf } from '../../src/engine/sql-state.js';

// A link put in the file's place after confinedPath checked the path (a race
// an integration test cannot time) reaches openOutputFile as this one does.
const directory = mkdtempSync(path.join(tmpdir(), 'procgate-export-open-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('export.csv opening its file', () => {
  it('refuses a symbolic link at the file with SQLSTATE 42501, which the run records as its error code', async () => {
    writeFileSync(path.join(directory, 'target.csv'), 'kept\n');
    symlinkSync(path.join(directory, 'target.csv'), path.join(directory, 'link.csv'));
    const error = await openOutputFile(path.join(directory, 'link.csv'), 'link.csv', true).then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toMatchObject({ message: 'permission denied: path "link.csv" is a symbolic link (42501)' });
    expect(sqlStateOf(error)).toBe('42501');
    expect(isRunError(error)).toBe(true);
    expect(readFileSync(path.join(directory, 'target.csv'), 'utf8')).toBe('kept\n');
  });
});
