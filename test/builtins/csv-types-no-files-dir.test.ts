import { describe, expect, it } from 'vitest';
import { useEngine } from '../support/engine-fixture.js';
import { useProxiedDatabase } from '../support/test-database.js';

const t = useProxiedDatabase('engine_csv_nodir', { statements: true });
const fixture = useEngine<{ state: string; error: string | null }>(t);

describe("TYPE 'import.csv' and 'export.csv' without --files-dir", () => {
  it('fail the run with a message that names --files-dir', async () => {
    await fixture.client.query('CREATE TABLE target (n int)');
    await fixture.client.query("CREATE PROCEDURE load_csv TYPE 'import.csv'");
    await fixture.client.query("CREATE PROCEDURE save_csv TYPE 'export.csv'");
    const imported = await fixture.finished(
      await fixture.execute("EXECUTE PROCEDURE load_csv(path => 'x.csv') INTO target"),
    );
    expect(imported.state).toBe('failed');
    expect(imported.error).toMatch(/import\.csv needs the engine's --files-dir/);
    const exported = await fixture.finished(
      await fixture.execute("EXECUTE PROCEDURE save_csv(input => TABLE (target), path => 'x.csv')"),
    );
    expect(exported.state).toBe('failed');
    expect(exported.error).toMatch(/export\.csv needs the engine's --files-dir/);
  });
});
