export {
  catalogQueries,
  type Database as CatalogDatabase,
  migrate,
  type ProcgateDatabase,
  SchemaTooNewError,
} from './catalog/index.js';
export { PgError, Severity } from './errors/pg-error.js';
export { SqlState } from './errors/sqlstate.js';
export { createLogger, type Logger, silentLogger } from './log/logger.js';
export { type EmbeddedCluster, startEmbeddedCluster } from './postgres/embedded-cluster.js';
export type { BackendAddress } from './proxy/backend-address.js';
export { ProxyServer, type ProxyServerOptions, type TlsFiles } from './proxy/proxy-server.js';
export { type ProcgateServer, startProcgateServer } from './server/procgate-server.js';
export type { ProcedureCatalog, ProcedureInfo } from './sql/procedure-catalog.js';
export { type QueryRewrite, rewriteQuery } from './sql/rewrite-query.js';
export { Engine } from './engine/engine.js';
