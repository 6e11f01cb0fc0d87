/** What the rewrite needs to know of a procedure procgate has stored. */
export interface ProcedureInfo {
  /** Declared parameters in order; null for a procedure that takes any named parameters. */
  readonly parameters: readonly DeclaredParameter[] | null;
}

export interface DeclaredParameter {
  readonly name: string;
  /** The type's SQL name (as `regtype` prints it); null for a TABLE parameter. */
  readonly type: string | null;
  readonly table: boolean;
}

/**
 * Which procedures exist, by name. Consulted synchronously while a client's
 * statement is rewritten: to tell our CALL/DROP/GRANT from PostgreSQL's, and
 * to give `$n` placeholders the declared parameter types.
 */
export interface ProcedureCatalog {
  lookup(name: string): ProcedureInfo | undefined;
}
