import type { Selectable } from 'kysely';
import type pg from 'pg';
import { catalogQueries, type ProceduresTable } from '../catalog/index.js';
import type { Logger } from '../log/logger.js';
import { ReconnectingListener } from '../postgres/reconnecting-listener.js';
import type { DeclaredParameter, ProcedureCatalog, ProcedureInfo } from '../sql/procedure-catalog.js';

/** The channel the SQL API notifies, with a procedure's name, when a procedure is created, changed or dropped. */
export const CATALOG_CHANNEL = 'procgate_catalog';

type ProcedureRow = Pick<Selectable<ProceduresTable>, 'name' | 'parameters'>;

const allProcedures = catalogQueries.selectFrom('procgate_internal.procedures').select(['name', 'parameters']);

/**
 * An in-memory copy of which procedures exist and their declared parameters,
 * for the proxy to consult synchronously while it rewrites statements. Kept
 * current by LISTEN/NOTIFY on {@link CATALOG_CHANNEL}; a lost connection is
 * re-opened and the whole catalog reloaded.
 *
 * Being a copy of committed state, it does not see a procedure created in a
 * session's still-open transaction: there CALL/DROP of that name go to
 * PostgreSQL, and EXECUTE PROCEDURE types `$n` as text.
 */
export class ProcedureCache implements ProcedureCatalog {
  private procedures = new Map<string, ProcedureInfo>();
  private listener: ReconnectingListener | undefined;

  private constructor(private readonly logger: Logger) {}

  static async open(connectionString: string, logger: Logger): Promise<ProcedureCache> {
    const cache = new ProcedureCache(logger);
    cache.listener = await ReconnectingListener.open({
      config: { connectionString, application_name: 'procgate catalog' },
      channel: CATALOG_CHANNEL,
      logger,
      // Loaded after LISTEN on every connection, so no change between the two is missed.
      onConnect: (client) => cache.loadAll(client),
      onNotification: (name) => {
        if (name !== undefined) void cache.reload(name);
      },
    });
    return cache;
  }

  lookup(name: string): ProcedureInfo | undefined {
    return this.procedures.get(name);
  }

  async close(): Promise<void> {
    await this.listener?.close();
  }

  private async loadAll(client: pg.Client): Promise<void> {
    const result = await client.query<ProcedureRow>(
      'SELECT name, parameters FROM procgate_internal.procedures',
    );
    this.procedures = new Map(result.rows.map((row) => [row.name, toInfo(row)]));
  }

  private async reload(name: string): Promise<void> {
    try {
      const { sql, parameters } = allProcedures.where('name', '=', name).compile();
      const result = await this.listener?.client?.query<ProcedureRow>(sql, [...parameters]);
      const row = result?.rows[0];
      if (row === undefined) this.procedures.delete(name);
      else this.procedures.set(name, toInfo(row));
    } catch (error) {
      this.logger.warn({ err: error, name }, 'could not reload a procedure into the catalog cache');
    }
  }
}

function toInfo(row: ProcedureRow): ProcedureInfo {
  if (row.parameters === null) return { parameters: null };
  const parameters: DeclaredParameter[] = row.parameters.map((parameter) => ({
    name: parameter.name,
    type: parameter.type ?? null,
    table: parameter.table,
  }));
  return { parameters };
}
