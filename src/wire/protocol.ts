/**
 * Constants of the PostgreSQL frontend/backend protocol, version 3.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html
 */

/** Codes that stand where a StartupMessage has its protocol version. */
export const StartupCode = {
  /** @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-SSLREQUEST */
  sslRequest: 80877103,
  /** @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-GSSENCREQUEST */
  gssEncRequest: 80877104,
  /** @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-CANCELREQUEST */
  cancelRequest: 80877102,
} as const;

/** Protocol major version 3; any minor is accepted and forwarded. */
export const PROTOCOL_MAJOR = 3;

/** PostgreSQL's own limit for a startup packet (MAX_STARTUP_PACKET_LENGTH). */
export const MAX_STARTUP_PACKET_LENGTH = 10000;

/** Default limit of a regular message, as PostgreSQL's PQ_LARGE_MESSAGE_LIMIT (1 GiB). */
export const DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024 * 1024;

/** Type bytes of frontend messages the proxy looks at. */
export const FrontendType = {
  query: 0x51, // 'Q'
  parse: 0x50, // 'P'
  sync: 0x53, // 'S'
  functionCall: 0x46, // 'F'
  bind: 0x42, // 'B'
  execute: 0x45, // 'E'
  describe: 0x44, // 'D'
  close: 0x43, // 'C'
  terminate: 0x58, // 'X'
  password: 0x70, // 'p' (also SASLInitialResponse, SASLResponse, GSSResponse)
} as const;

/** Type bytes of backend messages the proxy looks at. */
export const BackendType = {
  authentication: 0x52, // 'R'
  backendKeyData: 0x4b, // 'K'
  readyForQuery: 0x5a, // 'Z'
  parseComplete: 0x31, // '1'
  bindComplete: 0x32, // '2'
  closeComplete: 0x33, // '3'
  commandComplete: 0x43, // 'C'
  emptyQueryResponse: 0x49, // 'I'
  portalSuspended: 0x73, // 's'
  noData: 0x6e, // 'n'
  rowDescription: 0x54, // 'T'
  errorResponse: 0x45, // 'E'
  negotiateProtocolVersion: 0x76, // 'v'
  parameterStatus: 0x53, // 'S'
  noticeResponse: 0x4e, // 'N'
} as const;

/** Sub-codes of the Authentication ('R') message. */
export const AuthCode = {
  ok: 0,
  sasl: 10,
} as const;

/** Length of a message header: one type byte and an Int32 length. */
export const HEADER_LENGTH = 5;
