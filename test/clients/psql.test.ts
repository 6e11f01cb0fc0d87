import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directUrl, procgate, usePgClient, waitForRun } from './support/client-session.js';

const execFileAsync = promisify(execFile);
const client = usePgClient();

/** psql as a person at a terminal types into it: one statement at a time, reading each answer. */
class PsqlSession {
  private readonly child: ChildProcessWithoutNullStreams;
  private output = '';
  private waiter: (() => void) | undefined;
  private count = 0;

  constructor(url: string) {
    // -X: no psqlrc; -A -t: unaligned rows without headers, easy to read back.
    this.child = spawn('psql', [url, '-X', '-q', '-A', '-t'], { env: { ...process.env, PGAPPNAME: 'psql-session' } });
    const collect = (chunk: Buffer): void => {
      this.output += chunk.toString();
      this.waiter?.();
    };
    this.child.stdout.on('data', collect);
    this.child.stderr.on('data', collect);
  }

  /** Sends `input` and returns what psql printed for it (stdout and stderr). */
  async send(input: string): Promise<string> {
    this.count += 1;
    const marker = `-- done ${this.count} --`;
    this.output = '';
    this.child.stdin.write(`${input}\n\\echo '${marker}'\n`);
    while (!this.output.includes(marker)) {
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
    }
    return this.output.slice(0, this.output.indexOf(marker)).trim();
  }

  async close(): Promise<number | null> {
    const exited = new Promise<number | null>((resolve) => this.child.once('exit', (code) => resolve(code)));
    this.child.stdin.end('\\q\n');
    return exited;
  }
}

describe('psql through procgate serve', () => {
  let session: PsqlSession;
  beforeAll(() => {
    session = new PsqlSession(procgate().url);
  });
  afterAll(async () => {
    expect(await session.close()).toBe(0);
  });

  it('runs sql-examples/quickstart.sql from start to end', async () => {
    // As the README says: psql "$URL" --echo-all -f sql-examples/quickstart.sql (the script stops at the first error).
    const { stdout } = await execFileAsync('psql', [procgate().url, '-X', '--echo-all', '-f', 'sql-examples/quickstart.sql']);
    expect(stdout).toMatch(/^run [0-9a-f-]{36} is queued$/m);
    expect(stdout).toContain(' sensor 0 | 10 |   33');
    expect(stdout).toMatch(/\| cancelling\s*$/m);
    expect(stdout).toMatch(/^ nap +\| killed +\| +1$/m);
  });

  it('creates, executes, polls until done and inspects runs, segments and output lines, one statement at a time', async () => {
    const created = await session.send(`
      CREATE PROCEDURE psql_lines(n int) LANGUAGE command COMMAND 'sh'
        ARGS ('-c', 'for i in 1 2 3; do echo "line $i of segment $PROCGATE_SEGMENT"; sleep 0.1; done')
        EXECUTION MODE NONDISTRIBUTED;`);
    expect(created).toMatch(/^psql_lines\|\|command\|sh\|/);
    const started = await session.send(`EXECUTE PROCEDURE psql_lines(n => 1) WITH (run_tag = 'psql-session') \\gset`);
    expect(started).toBe('');
    expect(await session.send(`\\echo :state`)).toBe('queued');
    // Poll, as a user would: the same SELECT again until the run has ended.
    let state = '';
    for (let polls = 0; polls < 200 && !['succeeded', 'failed', 'killed'].includes(state); polls += 1) {
      state = await session.send(`SELECT state FROM procgate.runs WHERE run_id = :'run_id';`);
      if (state === 'queued' || state === 'running') await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(state).toBe('succeeded');
    expect(await session.send(`SHOW PROCEDURE STATUS :'run_id';`)).toMatch(/\|psql_lines\|succeeded\|1(\.0*)?\|/);
    expect(await session.send(`SELECT segment, state, exit_code FROM procgate.run_segments WHERE run_id = :'run_id';`))
      .toBe('0|succeeded|0');
    expect(
      await session.send(`SELECT line FROM procgate.run_output WHERE run_id = :'run_id' ORDER BY line_no;`),
    ).toBe('line 1 of segment 0\nline 2 of segment 0\nline 3 of segment 0');
  });

  it('kills a run with KILL RUN and sees it killed', async () => {
    await session.send(`CREATE PROCEDURE psql_nap LANGUAGE command COMMAND 'sleep' ARGS ('60');`);
    await session.send(`EXECUTE PROCEDURE psql_nap() \\gset nap_`);
    await waitFor(async () => (await session.send(`SELECT state FROM procgate.runs WHERE run_id = :'nap_run_id';`)) === 'running');
    expect(await session.send(`KILL RUN :'nap_run_id';`)).toMatch(/\|cancelling$/);
    expect((await waitForRun(client, await session.send(`\\echo :nap_run_id`))).state).toBe('killed');
  });

  it.each([
    ['\\d procgate.runs'],
    ['\\dv procgate.*'],
    ['\\df procgate.*'],
    ['\\dt'],
  ])('shows %s exactly as PostgreSQL does', async (command) => {
    const through = await execFileAsync('psql', [procgate().url, '-X', '-c', command]);
    const direct = await execFileAsync('psql', [directUrl(), '-X', '-c', command]);
    expect(through.stdout).toBe(direct.stdout);
    expect(through.stdout.length).toBeGreaterThan(0);
  });

  it('kills the run of a CALL when psql gets SIGINT (Ctrl-C), and prints the cancel error', async () => {
    await client.query("CREATE PROCEDURE psql_forever LANGUAGE command COMMAND 'sleep' ARGS ('60')");
    const child = spawn('psql', [procgate().url, '-X', '-c', "CALL psql_forever() WITH (run_tag = 'psql-sigint')"]);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const runState = async (): Promise<string | undefined> =>
      (await client.query("SELECT state FROM procgate.runs WHERE run_tag = 'psql-sigint'")).rows[0]?.state;
    await waitFor(async () => (await runState()) === 'running');
    child.kill('SIGINT');
    expect(await exited).toBe(1);
    expect(stderr).toContain('ERROR:  canceling statement due to user request');
    expect(stderr).toMatch(/DETAIL: {2}Run [0-9a-f-]{36} was killed\./);
    expect(stderr).not.toContain('call_and_wait');
    await waitFor(async () => (await runState()) === 'killed');
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
