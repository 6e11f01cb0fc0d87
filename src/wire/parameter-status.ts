/**
 * A run-time setting PostgreSQL reports to the client (at startup, and
 * whenever a reported setting changes).
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-PARAMETERSTATUS
 */
export interface ParameterStatus {
  readonly name: string;
  readonly value: string;
}

/** Reads a whole ParameterStatus message. */
export function parseParameterStatus(message: Buffer): ParameterStatus {
  const nameEnd = message.indexOf(0, 5);
  return {
    name: message.toString('utf8', 5, nameEnd),
    value: message.toString('utf8', nameEnd + 1, message.length - 1),
  };
}
