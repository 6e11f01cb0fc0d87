import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TYPES } from '../../src/builtins/index.js';
import { Engine } from '../../src/engine/engine.js';
import { silentLogger } from '../../src/log/logger.js';
import { adminConfig, eventually, useProxiedDatabase } from '../support/test-database.js';

const t = useProxiedDatabase('engine_startup', { statements: true });

/** Roles are cluster-wide: a name of this file's own. */
const runner = `startup_runner_${randomBytes(4).toString('hex')}`;
let client: pg.Client;

beforeAll(async () => {
  client = new pg.Client(t.proxy.config(t.db.name));
  await client.connect();
  await client.query(`CREATE ROLE ${runner} NOLOGIN`);
});

afterAll(async () => {
  await client.end();
  const admin = new pg.Client(adminConfig());
  await admin.connect();
  await admin.query(`DROP ROLE IF EXISTS ${runner}`);
  await admin.end();
});

interface RunRow {
  run_id: string;
  state: string;
  run_tag: string | null;
  submitted_by: string;
  options: Record<string, unknown>;
}

/** Starts an engine, as `procgate serve` or `procgate worker` does, and gives it back to stop. */
async function startEngine(logger = silentLogger()): Promise<Engine> {
  const engine = new Engine({ slots: 2, logger, killGraceMs: 500, procedureTypes: TYPES });
  await engine.start(t.db.direct);
  return engine;
}

async function runsOf(procedure: string): Promise<RunRow[]> {
  const { rows } = await client.query<RunRow>(
    'SELECT run_id, state, run_tag, submitted_by, options FROM procgate.runs WHERE procedure = $1 ORDER BY created_at',
    [procedure],
  );
  return rows;
}

async function finishedRunsOf(procedure: string, count: number): Promise<RunRow[]> {
  return eventually(
    () => runsOf(procedure),
    (rows) => rows.length === count && rows.every((row) => ['succeeded', 'failed', 'killed'].includes(row.state)),
    10_000,
  );
}

async function outputOf(runId: string): Promise<string[]> {
  const { rows } = await client.query<{ line: string }>(
    "SELECT line FROM procgate.run_output WHERE run_id = $1 AND stream = 'stdout' ORDER BY line_no",
    [runId],
  );
  return rows.map((row) => row.line);
}

describe('EXECUTE PROCEDURE ... WITH (execute_at_startup = true)', () => {
  it('queues no run; each engine start queues one, as execute_at_startup_as, and it runs', async () => {
    await client.query(`
      CREATE PROCEDURE greet(greeting text) LANGUAGE command COMMAND 'python3'
        ARGS ('-c', 'import json, os; print(json.load(open(os.environ["PROCGATE_CONTROL_FILE"]))["params"]["greeting"]["value"])')
        EXECUTION MODE NONDISTRIBUTED`);
    await client.query(`GRANT EXECUTE ON PROCEDURE greet TO ${runner}`);
    const registered = await client.query(
      `EXECUTE PROCEDURE greet(greeting => 'hello ' || 'world')
         WITH (execute_at_startup = true, execute_at_startup_as = '${runner}', run_tag = 'boot')`,
    );
    expect(registered.command).toBe('SELECT');
    expect(registered.rows).toEqual([
      { run_id: null, procedure: 'greet', state: 'at startup', run_tag: 'boot', created_at: expect.any(Date) },
    ]);
    const { rows: registrations } = await client.query(
      "SELECT procedure, params, submitted_by, run_as FROM procgate.startup_runs WHERE procedure = 'greet'",
    );
    expect(registrations).toEqual([
      {
        procedure: 'greet',
        params: { greeting: { value: 'hello world', type: 'text' } },
        submitted_by: t.db.direct.user,
        run_as: runner,
      },
    ]);
    expect(await runsOf('greet')).toEqual([]);

    const logs: Array<{ msg?: string; runs?: number }> = [];
    const first = await startEngine(
      pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line) as { msg?: string }) }),
    );
    try {
      expect(logs).toContainEqual(expect.objectContaining({ msg: 'startup runs queued', runs: 1 }));
      // start() has queued the startup runs by the time it returns.
      expect(await runsOf('greet')).toHaveLength(1);
      const [run] = await finishedRunsOf('greet', 1);
      expect(run).toMatchObject({ state: 'succeeded', run_tag: 'boot', submitted_by: runner });
      expect(Object.keys(run!.options)).not.toContain('execute_at_startup');
      expect(Object.keys(run!.options)).not.toContain('execute_at_startup_as');
      expect(await outputOf(run!.run_id)).toEqual(['hello world']);
    } finally {
      await first.stop();
    }

    // Another start (a restart, or a second engine) queues another run.
    const second = await startEngine();
    try {
      const runs = await finishedRunsOf('greet', 2);
      expect(runs.map((run) => [run.state, run.submitted_by])).toEqual([
        ['succeeded', runner],
        ['succeeded', runner],
      ]);
      expect(await outputOf(runs[1]!.run_id)).toEqual(['hello world']);
    } finally {
      await second.stop();
    }
  });

  it('runs as the submitter without execute_at_startup_as; dropping the procedure removes the registration', async () => {
    await client.query("CREATE PROCEDURE tick LANGUAGE command COMMAND 'true' EXECUTION MODE NONDISTRIBUTED");
    await client.query('EXECUTE PROCEDURE tick() WITH (execute_at_startup = true)');
    const engine = await startEngine();
    try {
      const [run] = await finishedRunsOf('tick', 1);
      expect(run).toMatchObject({ state: 'succeeded', submitted_by: t.db.direct.user });
    } finally {
      await engine.stop();
    }
    await client.query('DROP PROCEDURE tick');
    const { rows } = await client.query("SELECT * FROM procgate.startup_runs WHERE procedure = 'tick'");
    expect(rows).toEqual([]);
    const after = await startEngine();
    await after.stop();
    expect(await runsOf('tick')).toHaveLength(1);
  });

  it('drop_startup_run removes a registration', async () => {
    await client.query("CREATE PROCEDURE once LANGUAGE command COMMAND 'true' EXECUTION MODE NONDISTRIBUTED");
    await client.query('EXECUTE PROCEDURE once() WITH (execute_at_startup = true)');
    const { rows } = await client.query<{ id: string }>("SELECT id FROM procgate.startup_runs WHERE procedure = 'once'");
    expect(
      (await client.query('SELECT * FROM procgate.drop_startup_run($1)', [rows[0]!.id])).rows,
    ).toEqual([{ id: rows[0]!.id, procedure: 'once' }]);
    const engine = await startEngine();
    await engine.stop();
    expect(await runsOf('once')).toEqual([]);
  });

  it('is refused with CALL (22023): CALL waits for a run', async () => {
    await client.query("CREATE PROCEDURE waited LANGUAGE command COMMAND 'true' EXECUTION MODE NONDISTRIBUTED");
    await expect(client.query('CALL waited() WITH (execute_at_startup = true)')).rejects.toMatchObject({
      code: '22023',
      message: 'CALL cannot use option "execute_at_startup": CALL waits for its run',
    });
    const { rows } = await client.query("SELECT * FROM procgate.startup_runs WHERE procedure = 'waited'");
    expect(rows).toEqual([]);
    expect(await runsOf('waited')).toEqual([]);
  });
});
