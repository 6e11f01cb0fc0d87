/**
 * The statements of procgate's own SQL surface, as the grammar
 * (grammar/statements.peggy) returns them. Expressions are never parsed:
 * they are {@link Span}s of the client's text that the rewrite places, as
 * written, into SQL for PostgreSQL to evaluate.
 */

/** UTF-16 offsets into the client's whole Query (or Parse) text; `end` is exclusive. */
export interface Span {
  readonly start: number;
  readonly end: number;
}

/** An identifier: lowercased unless it was quoted. */
export interface Name {
  readonly value: string;
  readonly span: Span;
}

export interface Option {
  readonly name: Name;
  readonly value: Span;
}

export interface ParameterDeclaration {
  readonly name: Name;
  /** The declared type's text; null for a TABLE parameter. */
  readonly type: Span | null;
  readonly table: boolean;
  readonly defaultValue: Span | null;
  readonly span: Span;
}

export type ProcedureBody =
  | { readonly kind: 'type'; readonly typeName: Span }
  | { readonly kind: 'command'; readonly command: Span; readonly args: readonly Span[] }
  | { readonly kind: 'javascript' };

export interface FileEntry {
  /** A string literal. */
  readonly path: Span;
  readonly value: Span;
}

export interface ColumnDefinition {
  readonly name: Name;
  readonly type: Span;
}

export interface CreateProcedure {
  readonly kind: 'create-procedure';
  readonly orReplace: boolean;
  readonly name: Name;
  /** null when no parameter list was given: the procedure takes any named parameters. */
  readonly parameters: readonly ParameterDeclaration[] | null;
  readonly body: ProcedureBody;
  readonly executionMode: 'distributed' | 'nondistributed' | null;
  readonly files: readonly FileEntry[];
  readonly returns: readonly ColumnDefinition[] | null;
  readonly options: readonly Option[];
  readonly span: Span;
}

export type TableSource =
  | { readonly kind: 'query'; readonly query: Span }
  | { readonly kind: 'relation'; readonly name: Span };

export type ArgumentValue =
  | { readonly kind: 'expression'; readonly expression: Span }
  | {
    readonly kind: 'table';
    readonly source: TableSource;
    readonly partitionBy: readonly Span[];
    readonly span: Span;
  };

export interface Argument {
  /** null for a positional argument. */
  readonly name: Name | null;
  readonly value: ArgumentValue;
  readonly span: Span;
}

export interface Invocation {
  readonly name: Name;
  readonly args: readonly Argument[];
  /** Output table names as written (qualified names). */
  readonly into: readonly Span[];
  readonly options: readonly Option[];
  readonly span: Span;
}

export interface ExecuteProcedure extends Invocation {
  readonly kind: 'execute-procedure';
}

export interface CallProcedure extends Invocation {
  readonly kind: 'call-procedure';
}

export interface KillRun {
  readonly kind: 'kill-run';
  readonly runId: Span;
  readonly span: Span;
}

export interface KillRuns {
  readonly kind: 'kill-runs';
  readonly procedure: Name | null;
  readonly options: readonly Option[];
  readonly span: Span;
}

export interface DropProcedure {
  readonly kind: 'drop-procedure';
  readonly ifExists: boolean;
  readonly name: Name;
  readonly span: Span;
}

export interface ShowProcedures {
  readonly kind: 'show-procedures';
  readonly span: Span;
}

export interface ShowProcedure {
  readonly kind: 'show-procedure';
  readonly name: Name;
  readonly span: Span;
}

export interface ShowProcedureStatus {
  readonly kind: 'show-procedure-status';
  readonly runId: Span | null;
  readonly options: readonly Option[];
  readonly span: Span;
}

export interface GrantExecute {
  readonly kind: 'grant-execute' | 'revoke-execute';
  readonly name: Name;
  readonly role: Name;
  readonly span: Span;
}

export type ProcgateStatement =
  | CreateProcedure
  | ExecuteProcedure
  | CallProcedure
  | KillRun
  | KillRuns
  | DropProcedure
  | ShowProcedures
  | ShowProcedure
  | ShowProcedureStatus
  | GrantExecute;
