import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_UID_RANGE } from '../../src/engine/sandbox/sandbox-users.js';
import { useEngine } from '../support/engine-fixture.js';
import { isLiveProcess } from '../support/processes.js';
import { eventually, sharedPostgres, useProxiedDatabase } from '../support/test-database.js';

/*
 * procgate runs as root here: a developer's programs run as unprivileged
 * uids of their own, and every way out of the sandbox a developer could try
 * fails. `dev` is a login role in procgate_developer, not a superuser.
 */

const t = useProxiedDatabase('engine_sandbox', { statements: true });
const runDirectory = mkdtempSync(path.join(tmpdir(), 'procgate-sandbox-'));
const fixture = useEngine<{ state: string; error: string | null }>(t, { runDirectory });
const devRole = `dev_${randomBytes(4).toString('hex')}`;
let dev: pg.Client;

beforeAll(async () => {
  await fixture.client.query(`CREATE ROLE ${devRole} LOGIN PASSWORD 'pw'`);
  await fixture.client.query(`GRANT procgate_developer TO ${devRole}`);
  dev = new pg.Client({ ...t.proxy.config(t.db.name), user: devRole, password: 'pw' });
  await dev.connect();
  // sh -c with the run's `script`, as the developer would write any program.
  await dev.query(`
    CREATE PROCEDURE as_dev(script text) LANGUAGE command COMMAND 'python3' ARGS ('run.py')
      EXECUTION MODE NONDISTRIBUTED
      FILES ('run.py' = $py$
import json, os, subprocess, sys
control = json.load(open(os.environ["PROCGATE_CONTROL_FILE"]))
sys.exit(subprocess.run(["sh", "-c", control["params"]["script"]["value"]]).returncode)
$py$)`);
});

afterAll(async () => {
  await dev.end();
  rmSync(runDirectory, { recursive: true, force: true });
  // After the database (its grants) is gone: useProxiedDatabase drops it first.
});

afterAll(async () => {
  const admin = new pg.Client({ ...t.db.direct, database: 'postgres' });
  await admin.connect();
  await admin.query(`DROP ROLE IF EXISTS ${devRole}`).catch(() => undefined);
  await admin.end();
});

interface Attempt {
  readonly state: string;
  readonly stdout: string[];
  readonly stderr: string[];
}

/** Starts a run of `script` as dev; gives its id. */
async function start(script: string): Promise<string> {
  const { rows } = await dev.query<{ run_id: string }>(`EXECUTE PROCEDURE as_dev(script => ${dev.escapeLiteral(script)})`);
  return rows[0]!.run_id;
}

/** Runs `script` as dev to its end. */
async function attempt(script: string): Promise<Attempt> {
  const runId = await start(script);
  const { state } = await fixture.finished(runId);
  const lines = await fixture.query<{ stream: string; line: string }>(
    'SELECT stream, line FROM procgate.run_output WHERE run_id = $1 ORDER BY stream, line_no',
    [runId],
  );
  const of = (stream: string): string[] => lines.filter((l) => l.stream === stream).map((l) => l.line);
  return { state, stdout: of('stdout'), stderr: of('stderr') };
}

/** Each `name: command` is tried; a line `LEAK name` says one worked. The script itself succeeds. */
function each(commands: Record<string, string>): string {
  const tries = Object.entries(commands).map(([name, command]) => `( ${command} ) > /dev/null && echo "LEAK ${name}"`);
  return [...tries, 'true'].join('\n');
}

describe('a developer\'s program, with procgate running as root', () => {
  it('runs as an unprivileged uid of the range, with no other groups, its own HOME and TMPDIR', async () => {
    const { state, stdout } = await attempt('id -u; id -g; id -G; echo "$HOME|$TMPDIR|$USER|$LOGNAME"; touch "$HOME/h" "$TMPDIR/t" && echo writable');
    expect(state).toBe('succeeded');
    const [uid, gid, groups, environment, writable] = stdout;
    expect(Number(uid)).toBeGreaterThanOrEqual(DEFAULT_UID_RANGE.first);
    expect(Number(uid)).toBeLessThanOrEqual(DEFAULT_UID_RANGE.last);
    expect(gid).toBe(uid);
    expect(groups).toBe(uid);
    const [home, tmp, user, logname] = environment!.split('|');
    expect(path.basename(home!)).toBe('work');
    expect(tmp).toBe(path.join(path.dirname(home!), 'tmp'));
    expect([user, logname]).toEqual(['procgate-sandbox', 'procgate-sandbox']);
    expect(writable).toBe('writable');
  });

  it('cannot read procgate\'s data dir, its password file or PostgreSQL\'s files', async () => {
    const { dataDir } = sharedPostgres();
    const { state, stdout, stderr } = await attempt(
      each({
        password: `cat ${dataDir}/password`,
        'list data dir': `ls ${dataDir}`,
        'list pgdata': `ls ${dataDir}/pgdata`,
        'read pgdata': `cat ${dataDir}/pgdata/PG_VERSION`,
        'read a table file': `find ${dataDir}/pgdata/base -type f`,
      }),
    );
    expect(state).toBe('succeeded');
    expect(stdout).toEqual([]);
    expect(stderr.length).toBeGreaterThanOrEqual(5);
    for (const line of stderr) expect(line).toMatch(/Permission denied/);
  });

  it('cannot read procgate\'s environment nor signal procgate', async () => {
    const { stdout, stderr } = await attempt(
      each({
        environ: `cat /proc/${String(process.pid)}/environ`,
        memory: `head -c 1 /proc/${String(process.pid)}/mem`,
        'kill -9': `kill -9 ${String(process.pid)}`,
        'kill -STOP': `kill -STOP ${String(process.pid)}`,
        'run directory': `ls ${runDirectory}`,
      }),
    );
    expect(stdout).toEqual([]);
    expect(stderr.join('\n')).toMatch(/Permission denied/);
    expect(stderr.join('\n')).toMatch(/Operation not permitted/);
    expect(isLiveProcess(process.pid)).toBe(true);
  });

  it('cannot read, write or signal another run\'s running segment', async () => {
    const other = await start('echo secret > "$TMPDIR/secret"; echo running; sleep 30');
    const segment = await eventually(
      async () => fixture.query<{ pid: number | null }>('SELECT pid FROM procgate.run_segments WHERE run_id = $1', [other]),
      (rows) => rows[0]?.pid != null,
    );
    const pid = segment[0]!.pid!;
    const directory = await eventually(async () => segmentDirectoryOf(other), (found) => found !== undefined);
    expect(directory).toBeDefined();
    const { stdout, stderr } = await attempt(
      each({
        list: `ls ${directory!}`,
        'read control file': `cat ${directory!}/control.json`,
        'list work': `ls ${directory!}/work`,
        'read tmp': `cat ${directory!}/tmp/secret`,
        plant: `touch ${directory!}/planted`,
        'write work': `touch ${directory!}/work/planted`,
        'kill -9': `kill -9 ${String(pid)}`,
        'kill the group': `kill -9 -${String(pid)}`,
      }),
    );
    expect(stdout).toEqual([]);
    expect(stderr.join('\n')).toMatch(/Permission denied/);
    expect(stderr.join('\n')).toMatch(/Operation not permitted/);
    expect(existsSync(path.join(directory!, 'planted'))).toBe(false);
    expect((await fixture.run(other)).state).toBe('running');
    await fixture.client.query(`KILL RUN '${other}'`);
    expect((await fixture.finished(other)).state).toBe('killed');
  });

  it('cannot change the files the engine gave it, nor swap an output for a link', async () => {
    const { stdout } = await attempt(
      each({
        'write control file': 'echo "{}" > "$PROCGATE_CONTROL_FILE"',
        'replace control file': 'cp "$PROCGATE_CONTROL_FILE" ../c && mv ../c "$PROCGATE_CONTROL_FILE"',
        'add a file': 'touch ../extra',
      }),
    );
    expect(stdout).toEqual([]);
  });

  it('leaves nothing running when the segment ends, nor files it kept in /tmp', async () => {
    const left = `/tmp/procgate-left-${randomBytes(4).toString('hex')}`;
    const { state, stdout } = await attempt(
      `sleep 300 & echo "background $!"
       setsid sh -c 'echo "daemon $$"; exec sleep 300 > /dev/null 2>&1' &
       echo private > ${left}; chmod 600 ${left}
       sleep 0.3`,
    );
    expect(state).toBe('succeeded');
    const pids = stdout.map((line) => Number(line.split(' ')[1])).filter((pid) => pid > 0);
    expect(pids).toHaveLength(2);
    for (const pid of pids) {
      expect(await eventually(async () => isLiveProcess(pid), (live) => !live, 2000)).toBe(false);
    }
    // Closed at once (the uid's next segment cannot read it), removed soon after.
    const readable = async (): Promise<boolean> => existsSync(left) && statSync(left).uid !== 0;
    expect(await eventually(readable, (stillReadable) => !stillReadable, 2000)).toBe(false);
  });
});

/** The segment directory of a running run: its control file names the run. */
function segmentDirectoryOf(runId: string): string | undefined {
  for (const engine of readdirSync(runDirectory)) {
    const segments = path.join(runDirectory, engine, 'segments');
    if (!existsSync(segments)) continue;
    for (const entry of readdirSync(segments)) {
      const control = path.join(segments, entry, 'control.json');
      if (existsSync(control) && readFileSync(control, 'utf8').includes(runId)) return path.join(segments, entry);
    }
  }
  return undefined;
}
