import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, type RunningCli, startCli } from '../support/cli.js';
import { createTestDatabase, sharedPostgres, type TestDatabase } from '../support/test-database.js';

/**
 * What a person sees: on a terminal, the ready line and log lines to read;
 * elsewhere (a pipe, a file, a log collector) JSON, one object a line,
 * unless --log-format says otherwise.
 */

let db: TestDatabase;
let database: string;

beforeAll(async () => {
  db = await createTestDatabase('console_output');
  const shared = sharedPostgres();
  database = `postgres://${shared.user}:${encodeURIComponent(shared.password)}@${shared.host}:${shared.port}/${db.name}`;
});

afterAll(async () => {
  await db.drop();
});

const PRETTY_LINE = /^\[\d\d:\d\d:\d\d\.\d{3}\] (INFO|WARN|ERROR|DEBUG): \S/;

async function stopped(cli: RunningCli): Promise<void> {
  cli.child.kill('SIGTERM');
  expect(await cli.exited).toEqual({ code: 0, signal: null });
}

describe('console output', () => {
  it('is JSON on stderr when it is not a terminal, and the ready line alone on stdout', async () => {
    const cli = startCli(['serve', '--port', '0', '--database', database]);
    await cli.ready;
    await stopped(cli);
    expect(cli.stdout()).toMatch(/^procgate ready: \S+\n$/);
    const lines = cli.stderr().trim().split('\n');
    const messages = lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
    expect(messages).toEqual(expect.arrayContaining(['procgate ready', 'shutting down', 'stopped']));
  });

  it('is readable lines with --log-format pretty, on serve and on worker', async () => {
    for (const args of [['serve', '--port', '0'], ['worker']]) {
      const cli = startCli([...args, '--database', database, '--log-format', 'pretty']);
      await cli.ready;
      await stopped(cli);
      const lines = cli.stderr().trim().split('\n');
      expect(lines.filter((line) => !PRETTY_LINE.test(line)), args[0]).toEqual([]);
      expect(cli.stderr()).toContain('INFO: shutting down {"signal":"SIGTERM"}');
    }
  });

  it('is readable lines on a terminal, without being asked', async () => {
    // script(1) gives the command a terminal; exec makes procgate its child, so it can be signalled.
    const command = `exec ${process.execPath} ${CLI} serve --port 0 --database '${database}'`;
    const terminal = spawn('script', ['-qefc', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    terminal.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => terminal.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      terminal.stdout.on('data', () => {
        if (output.includes('procgate ready: ')) resolve();
      });
      void exited.then(() => reject(new Error(`script exited before ready: ${output}`)));
    });
    const [procgate] = readFileSync(`/proc/${String(terminal.pid)}/task/${String(terminal.pid)}/children`, 'utf8')
      .trim()
      .split(' ')
      .map(Number);
    process.kill(procgate!, 'SIGTERM');
    expect(await exited).toBe(0);
    // Colours on a terminal; compared without them.
    const colour = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
    const lines = output.replace(colour, '').replace(/\r/g, '').trim().split('\n');
    expect(lines.filter((line) => !PRETTY_LINE.test(line) && !line.startsWith('procgate ready: '))).toEqual([]);
    expect(lines.at(-1)).toMatch(/INFO: stopped$/);
    expect(lines.filter((line) => line.startsWith('procgate ready: postgres://'))).toHaveLength(1);
  });
});
