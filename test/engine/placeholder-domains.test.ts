import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useEngine } from '../support/engine-fixture.js';
import { useProxiedDatabase } from '../support/test-database.js';

/**
 * A TABLE query's typed `$n` values are turned into text and back by the
 * engine; a caller's domain over them (its CHECK calling the caller's
 * function) must run as the caller, never as the engine's role.
 */

const t = useProxiedDatabase('engine_placeholder_domains', { statements: true });

interface RunRow {
  run_id: string;
  state: string;
  error: string | null;
  error_code: string | null;
  rows_in: string;
  rows_out: string;
}

const fixture = useEngine<RunRow>(t);
const { finished, query } = fixture;

const COPY = `
import json, os, shutil
control = json.load(open(os.environ['PROCGATE_CONTROL_FILE']))
for source, target in zip(control['inputs'], control['outputs']):
    shutil.copyfile(source['path'], target['path'])
`;

beforeAll(async () => {
  await fixture.client.query('CREATE TABLE source AS SELECT g AS id FROM generate_series(1, 100) g');
  await fixture.client.query(
    `CREATE PROCEDURE copy_rows LANGUAGE command COMMAND 'python3' ARGS ('copy.py') FILES ('copy.py' = $1)`,
    [COPY],
  );
  await fixture.client.query('CREATE ROLE domain_caller');
  await fixture.client.query('GRANT procgate_developer TO domain_caller');
  await fixture.client.query('GRANT EXECUTE ON PROCEDURE copy_rows TO domain_caller');
  await fixture.client.query('GRANT CREATE ON SCHEMA public TO domain_caller');
  await fixture.client.query('GRANT SELECT ON source TO domain_caller');
  await fixture.client.query('CREATE TABLE seen (who text, super boolean)');
  await fixture.client.query('GRANT INSERT ON seen TO PUBLIC');
  await fixture.client.query('SET ROLE domain_caller');
  try {
    await fixture.client.query(
      `CREATE FUNCTION note_checker(v int) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $fn$
       BEGIN
         -- A segment reads in a read-only transaction: what is seen there is the caller anyway.
         IF current_setting('transaction_read_only') = 'off' THEN
           INSERT INTO seen SELECT current_user::text, r.rolsuper FROM pg_roles r WHERE r.rolname = current_user;
         END IF;
         RETURN true;
       END $fn$`,
    );
    await fixture.client.query('CREATE DOMAIN checked_int AS int CHECK (note_checker(VALUE))');
  } finally {
    await fixture.client.query('RESET ROLE');
  }
});

afterAll(async () => {
  await fixture.client.query('RESET ROLE').catch(() => undefined);
});

describe('typed placeholders of a TABLE query', () => {
  for (const [label, segments] of [['read directly', 2], ['staged', 2]] as const) {
    it(`run the caller's domain checks as the caller (${label})`, async () => {
      await fixture.client.query('TRUNCATE seen');
      const retries = label === 'staged' ? ', retries = 1' : '';
      await fixture.client.query('SET ROLE domain_caller');
      let runId: string;
      try {
        const { rows } = await fixture.client.query<{ run_id: string }>(
          `EXECUTE PROCEDURE copy_rows(rows => TABLE (SELECT id FROM source WHERE id > $1::checked_int))
             INTO out_${label.replace(' ', '_')} WITH (segments = ${String(segments)}${retries})`,
          [50],
        );
        runId = rows[0]!.run_id;
      } finally {
        await fixture.client.query('RESET ROLE');
      }
      const run = await finished(runId);
      if (run.error !== null) throw new Error(run.error);
      expect(run).toMatchObject({ state: 'succeeded', rows_out: '50' });
      const seen = await query<{ who: string; super: boolean }>('SELECT DISTINCT who, super FROM seen ORDER BY 1');
      expect(seen).toEqual([{ who: 'domain_caller', super: false }]);
    });
  }
});
