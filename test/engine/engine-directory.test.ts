import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EngineDirectory } from '../../src/engine/engine-directory.js';
import { silentLogger } from '../../src/log/logger.js';

const runDirectory = mkdtempSync(path.join(tmpdir(), 'pgengdir-'));
afterAll(() => rmSync(runDirectory, { recursive: true, force: true }));

/** A folder as an engine would leave it, with a segment's file in it. */
function leftBehind(name: string): string {
  const folder = path.join(runDirectory, name);
  mkdirSync(path.join(folder, 'segments', 'segment-x'), { recursive: true });
  writeFileSync(path.join(folder, 'segments', 'segment-x', 'input-1.csv'), 'id\n1\n');
  return folder;
}

describe('EngineDirectory', () => {
  it('removes the folders of dead engines on this host only: a reused pid, a live engine and what is not an engine\'s stay or go as they should', async () => {
    const live = EngineDirectory.planned(runDirectory);
    const [, host, pid, start] = /^engine\.(.+)\.(\d+)\.(\d+)\.[0-9a-f]+$/.exec(path.basename(live))!;
    mkdirSync(live);
    // This very process's pid, but another start time: a dead engine whose pid was given to us.
    const reusedPid = leftBehind(`engine.${host!}.${pid!}.${String(Number(start) + 1)}.aaaa`);
    // No such process (above the kernel's pid_max).
    const dead = leftBehind(`engine.${host!}.4194305.12345.bbbb`);
    const otherHost = leftBehind('engine.elsewhere.4194305.12345.cccc');
    const kept = leftBehind('kept');

    const mine = await EngineDirectory.open(EngineDirectory.planned(runDirectory), silentLogger());
    expect(existsSync(reusedPid)).toBe(false);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(otherHost)).toBe(true);
    expect(existsSync(kept)).toBe(true);
    expect(existsSync(mine.segments)).toBe(true);

    await mine.close(silentLogger());
    expect(existsSync(mine.path)).toBe(false);
    expect(readdirSync(runDirectory).sort()).toEqual([path.basename(live), 'engine.elsewhere.4194305.12345.cccc', 'kept'].sort());
  });
});
