/**
 * A segment's own way into the database: a login that has exactly the
 * rights of the role that executed the run, made for this segment and
 * gone when it ends (see SegmentLogins).
 */
export interface SegmentDatabase {
  /** The segment's login, made at the first call (later calls give the same). */
  login(): Promise<DatabaseLogin>;
}

export interface DatabaseLogin {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: string;
  /** libpq's variables (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, PGAPPNAME…) and PROCGATE_DATABASE_URL. */
  readonly environment: Readonly<Record<string, string>>;
}
