/** A SQL string literal (standard_conforming_strings, PostgreSQL's default since 9.1). */
export function sqlLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** A quoted SQL identifier: any name, as it is spelled. */
export function sqlIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A double as a SQL float8 constant that reads back as the same double (JS prints the shortest exact form). */
export function sqlFloat8(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`a model value is not finite: ${String(value)}`);
  return `${sqlLiteral(String(value))}::float8`;
}
