import type { PgError } from '../../errors/pg-error.js';
import { fromPgPosition, toPgPosition } from '../text-position.js';
import type { SourcePiece } from './sql-builder.js';

/** Where one of our statements went in the rewritten text. */
export interface RewrittenStatement {
  readonly outputStart: number;
  readonly outputEnd: number;
  readonly sourceStart: number;
  /** Set when the statement was replaced by a marker that makes PostgreSQL fail here with our error. */
  readonly error?: PgError;
}

/** What to tell the client about an error PostgreSQL raised in rewritten text. */
export type MappedError =
  | { readonly kind: 'position'; readonly position: number }
  | { readonly kind: 'replace'; readonly error: PgError };

/**
 * Maps positions in a rewritten text (as PostgreSQL reports them: 1-based,
 * in characters) back to the client's text. Positions inside text copied
 * from the client map exactly; positions in our own scaffolding map to the
 * start of the statement it stands for.
 */
export class PositionMap {
  constructor(
    private readonly source: string,
    private readonly output: string,
    private readonly pieces: readonly SourcePiece[],
    private readonly statements: readonly RewrittenStatement[],
  ) {}

  map(pgPosition: number): MappedError | undefined {
    const offset = fromPgPosition(this.output, pgPosition);
    const statement = this.statements.find((s) => offset >= s.outputStart && offset < s.outputEnd);
    if (statement?.error !== undefined) return { kind: 'replace', error: statement.error };
    const piece = this.pieces.find((p) => offset >= p.outputStart && offset <= p.outputStart + p.length);
    if (piece !== undefined) {
      return {
        kind: 'position',
        position: toPgPosition(this.source, piece.sourceStart + (offset - piece.outputStart)),
      };
    }
    if (statement !== undefined)
      return { kind: 'position', position: toPgPosition(this.source, statement.sourceStart) };
    return undefined;
  }
}
