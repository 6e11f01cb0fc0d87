/**
 * Reads the declared length of the message whose type byte is at `offset`:
 * the Int32 after it, which counts itself and the body but not the type
 * byte. The caller checks that the header's five bytes are there; this is
 * all of a message the proxy reads on its forwarding path.
 * @see https://www.postgresql.org/docs/current/protocol-overview.html#PROTOCOL-MESSAGE-CONCEPTS
 */
export function readMessageLength(bytes: Buffer, offset: number): number {
  return bytes.readInt32BE(offset + 1);
}
