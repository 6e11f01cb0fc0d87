/**
 * Reads the cancel key of a whole BackendKeyData message: the process id and
 * the secret key (4 bytes in protocol 3.0, up to 256 in 3.2), as a
 * CancelRequest carries them. A view of the message, not a copy.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-BACKENDKEYDATA
 */
export function parseBackendKeyData(message: Buffer): Buffer {
  return message.subarray(5);
}
