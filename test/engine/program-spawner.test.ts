import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { type ProgramEnd, ProgramSpawner } from '../../src/engine/executors/program-spawner.js';
import { silentLogger } from '../../src/log/logger.js';
import { eventually } from '../support/test-database.js';

/**
 * The command executor's spawner process, on its own: it starts programs
 * for the engine, tells their pid, status lines, kept output and end, and
 * when it dies its programs go with their process groups and the next
 * program gets a new spawner.
 */

const spawner = new ProgramSpawner(silentLogger());

afterAll(() => spawner.close());

interface Seen {
  pid: number | undefined;
  status: string;
  end: Promise<ProgramEnd>;
}

function run(command: string, args: string[], maxOutputLines = 10): Seen & { signal(signal: NodeJS.Signals): void } {
  const seen = { pid: undefined as number | undefined, status: '' };
  let ended!: (end: ProgramEnd) => void;
  const end = new Promise<ProgramEnd>((resolve) => (ended = resolve));
  const program = spawner.spawn(
    { command, args, cwd: '/tmp', env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' }, maxOutputLines },
    {
      started: (pid) => (seen.pid = pid),
      status: (text) => (seen.status += text),
      ended,
    },
  );
  return Object.assign(seen, { end, signal: (signal: NodeJS.Signals) => program.signal(signal) });
}

/** Pids of this process's children running `command-spawner.js`. */
function spawnerPids(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return ppid === process.pid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('command-spawner.js');
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** A process that runs: a zombie is dead already, whoever reaps it. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('ProgramSpawner', () => {
  it('starts a program in a session of its own and tells its pid, status lines, kept output and exit code', async () => {
    const program = run('sh', ['-c', 'echo one; echo two; echo three >&2; echo \'{"progress": 0.5}\' >&3; echo "$$ $(ps -o sid= -p $$)"; exit 3'], 2);
    const end = await program.end;
    expect(end).toMatchObject({ exitCode: 3, signal: null, processesGone: false });
    expect(end.spawnError).toBeUndefined();
    expect(program.status).toBe('{"progress": 0.5}\n');
    const [, last, stderr] = end.output;
    expect(end.output.map((line) => [line.stream, line.line_no])).toEqual([['stdout', 2], ['stdout', 3], ['stderr', 1]]);
    expect(stderr?.line).toBe('three');
    // Its own session: the session id is its pid, which it was told as.
    const [pid, session] = (last?.line ?? '').trim().split(/\s+/).map(Number);
    expect(pid).toBe(program.pid);
    expect(session).toBe(pid);
  });

  it('says why a program could not start', async () => {
    const end = await run('no-such-command-procgate', []).end;
    expect(end).toMatchObject({ exitCode: null, spawnError: 'spawn no-such-command-procgate ENOENT', output: [] });
  });

  it('signals the process group of a program, whatever it started included', async () => {
    const program = run('sh', ['-c', 'sleep 60 & echo "$!"; wait']);
    const child = await eventually(async () => Promise.resolve(program.pid), (pid) => pid !== undefined, 5_000);
    expect(alive(child!)).toBe(true);
    program.signal('SIGKILL');
    const end = await program.end;
    expect(end.signal).toBe('SIGKILL');
    const sleeper = Number(end.output[0]?.line);
    expect(await eventually(async () => Promise.resolve(alive(sleeper)), (isAlive) => !isAlive, 5_000)).toBe(false);
  });

  it('ends the programs of a spawner that died as failed, with their process groups, and starts a new one', async () => {
    const program = run('sleep', ['60']);
    const pid = await eventually(async () => Promise.resolve(program.pid), (started) => started !== undefined, 5_000);
    const [dying] = spawnerPids();
    expect(dying).toBeDefined();
    process.kill(dying!, 'SIGKILL');
    const end = await program.end;
    expect(end).toMatchObject({ exitCode: null, failure: 'the command spawner exited (SIGKILL)' });
    expect(await eventually(async () => Promise.resolve(alive(pid!)), (isAlive) => !isAlive, 5_000)).toBe(false);

    expect(await run('sh', ['-c', 'exit 0']).end).toMatchObject({ exitCode: 0 });
    expect(spawnerPids()).not.toContain(dying);
  });
});
