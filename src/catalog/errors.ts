/**
 * The database's procgate schema was migrated by a newer procgate than this
 * one. Running against it could corrupt what the newer version wrote, so
 * the server refuses to start.
 */
export class SchemaTooNewError extends Error {
  override readonly name = 'SchemaTooNewError';

  constructor(
    /** The newest migration applied to the database. */
    readonly databaseVersion: number,
    /** The newest migration this procgate knows. */
    readonly knownVersion: number,
  ) {
    super(
      `the procgate schema in this database is at version ${databaseVersion}, newer than ` +
        `version ${knownVersion} that this procgate knows: upgrade procgate`,
    );
  }
}
