import type { Span } from '../statement-ast.js';

/** A piece of rewritten text copied from the client's text: where it is in each. */
export interface SourcePiece {
  readonly outputStart: number;
  readonly sourceStart: number;
  readonly length: number;
}

/**
 * Builds rewritten SQL from our own scaffolding and pieces of the client's
 * text, remembering where each copied piece came from so that positions in
 * PostgreSQL's errors can be mapped back to what the client wrote.
 */
export class SqlBuilder {
  private readonly source: string;
  private readonly parts: string[] = [];
  private readonly pieces: SourcePiece[] = [];
  private length = 0;

  constructor(source: string) {
    this.source = source;
  }

  /** Appends our own SQL. */
  sql(text: string): this {
    this.parts.push(text);
    this.length += text.length;
    return this;
  }

  /** Appends the client's text of `span`, unchanged. */
  copy(span: Span): this {
    const text = this.source.slice(span.start, span.end);
    this.pieces.push({ outputStart: this.length, sourceStart: span.start, length: text.length });
    return this.sql(text);
  }

  /** Appends `value` as a string literal, correct whatever standard_conforming_strings is. */
  literal(value: string): this {
    return this.sql(quoteLiteral(value));
  }

  /** Appends the client's text of `span` as a string literal (e.g. a query kept as text). */
  copyAsLiteral(span: Span): this {
    return this.literal(this.source.slice(span.start, span.end));
  }

  /** Appends `items` separated by `separator`, each written by `write`. */
  list<T>(items: readonly T[], write: (item: T) => void, separator = ', '): this {
    items.forEach((item, index) => {
      if (index > 0) this.sql(separator);
      write(item);
    });
    return this;
  }

  /** Length of the text built so far. */
  get outputLength(): number {
    return this.length;
  }

  /** Appends everything another builder over the same source built. */
  append(other: SqlBuilder): this {
    for (const piece of other.pieces)
      this.pieces.push({ ...piece, outputStart: piece.outputStart + this.length });
    return this.sql(other.text());
  }

  text(): string {
    return this.parts.join('');
  }

  sourcePieces(): readonly SourcePiece[] {
    return this.pieces;
  }
}

/**
 * Quotes a string as a literal. A backslash forces the E'' form, which reads
 * the same with standard_conforming_strings on or off.
 */
export function quoteLiteral(value: string): string {
  const doubled = value.replace(/'/g, "''");
  return value.includes('\\') ? `E'${doubled.replace(/\\/g, '\\\\')}'` : `'${doubled}'`;
}
