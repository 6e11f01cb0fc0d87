import type net from 'node:net';
import tls from 'node:tls';
import { PgError } from '../errors/pg-error.js';
import type { Logger } from '../log/logger.js';
import { writeErrorResponse } from '../wire/error-response.js';
import { EncryptionResponse, frameStartupPacket, parseStartupPacket } from '../wire/startup-packet.js';
import type { CancelRegistry } from './cancel-registry.js';

/** The ALPN protocol name of PostgreSQL's wire protocol over TLS. */
const ALPN_PROTOCOL = 'postgresql';

/** TLS record type 22 (handshake): a direct TLS ClientHello; no startup packet length starts with it. */
function isTlsHandshake(bytes: Buffer): boolean {
  return bytes[0] === 0x16;
}

/** The outcome of the exchange before a StartupMessage. */
export type Negotiation =
  | {
    readonly kind: 'startup';
    /** The client's socket, TLS-wrapped when the client asked for TLS. */
    readonly socket: net.Socket;
    readonly tls: boolean;
    /** The StartupMessage exactly as the client sent it. */
    readonly packet: Buffer;
    readonly parameters: ReadonlyMap<string, string>;
    /** Bytes the client sent after its StartupMessage. */
    readonly leftover: Buffer;
  }
  /** The connection was a cancel request, failed, or went away; it is closed. */
  | { readonly kind: 'closed' };

export interface NegotiationOptions {
  readonly secureContext: tls.SecureContext | undefined;
  readonly cancelRegistry: CancelRegistry;
  readonly timeoutMs: number;
  readonly logger: Logger;
}

/**
 * Answers what a client sends before its StartupMessage, in any order:
 * SSLRequest (TLS when configured, else 'N'), GSSENCRequest ('N') and
 * CancelRequest (forwarded to the owning PostgreSQL); a TLS handshake as the
 * very first bytes is direct TLS. Resolves with the StartupMessage, or once
 * the connection is closed.
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-SSL
 */
export function negotiateStartup(socket: net.Socket, options: NegotiationOptions): Promise<Negotiation> {
  return new Promise((resolve) => {
    let current: net.Socket = socket;
    let buffered: Buffer = Buffer.alloc(0);
    let sslDone = false;
    let gssDone = false;
    /** Whether the first bytes have been looked at for a direct TLS handshake. */
    let firstBytesSeen = false;
    let settled = false;

    const timer = setTimeout(() => {
      options.logger.debug('client sent no startup message in time');
      finish({ kind: 'closed' });
      current.destroy();
    }, options.timeoutMs);

    const finish = (result: Negotiation): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      current.removeListener('data', onData);
      current.removeListener('close', onClose);
      resolve(result);
    };

    /** Sends a FATAL 08P01 and closes; false so the caller stops reading. */
    const fail = (reason: string): false => {
      options.logger.debug({ reason }, 'rejected client before startup');
      current.end(writeErrorResponse(PgError.protocolViolation(reason)));
      finish({ kind: 'closed' });
      return false;
    };

    /**
     * Closes without a word, as PostgreSQL does for what cannot be a request
     * (a bad length: garbage, or a Terminate sent before the StartupMessage);
     * false so the caller stops reading.
     */
    const drop = (reason: string): false => {
      options.logger.debug({ reason }, 'dropped client before startup');
      current.end();
      finish({ kind: 'closed' });
      return false;
    };

    const onClose = (): void => finish({ kind: 'closed' });

    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      while (!settled && handleNextPacket()) {
        // Each pass answers one request.
      }
    };

    /** Answers the next whole packet; false when more bytes are needed or the exchange is over. */
    const handleNextPacket = (): boolean => {
      if (!firstBytesSeen) {
        firstBytesSeen = true;
        if (isTlsHandshake(buffered)) {
          if (options.secureContext === undefined) return drop('direct TLS connection, but TLS is not configured');
          directTls(options.secureContext);
          return false;
        }
      }
      const frame = frameStartupPacket(buffered);
      if (frame.kind === 'incomplete') return false;
      if (frame.kind === 'invalid') return drop(frame.reason);
      const packet = buffered.subarray(0, frame.length);
      const rest = buffered.subarray(frame.length);
      const message = parseStartupPacket(packet);
      switch (message.kind) {
        case 'invalid':
          return drop(message.reason);
        case 'ssl-request':
          if (sslDone) return fail('unsupported frontend protocol 1234.5679: SSL already negotiated');
          sslDone = true;
          // Over direct TLS, PostgreSQL refuses a second TLS layer.
          if (options.secureContext === undefined || current !== socket) {
            current.write(EncryptionResponse.refused);
            buffered = rest;
            return true;
          }
          // Bytes sent before the handshake could be injected by a man in the middle.
          if (rest.length > 0) return fail('received unencrypted data after SSL request');
          upgrade(options.secureContext);
          return false;
        case 'gssenc-request':
          if (gssDone) return fail('unsupported frontend protocol 1234.5680: GSSAPI already negotiated');
          gssDone = true;
          current.write(EncryptionResponse.refused);
          buffered = rest;
          return true;
        case 'cancel-request':
          void options.cancelRegistry.forward(message.key, packet);
          current.end();
          finish({ kind: 'closed' });
          return false;
        case 'startup':
        case 'unreadable-startup':
          // Held until the session is wired up, so no byte is read without a listener.
          current.pause();
          finish({
            kind: 'startup',
            socket: current,
            tls: current !== socket,
            packet,
            parameters: message.kind === 'startup' ? message.parameters : new Map(),
            leftover: rest,
          });
          return false;
      }
    };

    const upgrade = (secureContext: tls.SecureContext): void => {
      current.removeListener('data', onData);
      current.removeListener('close', onClose);
      current.write(EncryptionResponse.accepted);
      startTls(secureContext, false);
      buffered = Buffer.alloc(0);
    };

    /**
     * PostgreSQL 17's direct TLS (`sslnegotiation=direct`): the client's
     * first bytes are a TLS ClientHello, which must name the ALPN protocol
     * `postgresql`. The bytes read so far go back to the socket, for the
     * TLS layer to read them first.
     * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-SSL
     */
    const directTls = (secureContext: tls.SecureContext): void => {
      current.pause();
      current.removeListener('data', onData);
      current.removeListener('close', onClose);
      current.unshift(buffered);
      buffered = Buffer.alloc(0);
      startTls(secureContext, true);
    };

    const startTls = (secureContext: tls.SecureContext, direct: boolean): void => {
      // As PostgreSQL, offer ALPN `postgresql`: a client asking for another protocol fails the handshake.
      const secure = new tls.TLSSocket(current, { isServer: true, secureContext, ALPNProtocols: [ALPN_PROTOCOL] });
      secure.on('error', (error) => {
        options.logger.debug({ err: error }, 'TLS handshake with client failed');
        secure.destroy();
        finish({ kind: 'closed' });
      });
      if (direct) {
        secure.once('secure', () => {
          // A direct TLS client must have negotiated ALPN; PostgreSQL closes without a word otherwise.
          if (secure.alpnProtocol !== ALPN_PROTOCOL) {
            options.logger.debug('direct TLS connection without ALPN protocol negotiation');
            secure.destroy();
            finish({ kind: 'closed' });
          }
        });
      }
      current = secure;
      current.on('data', onData);
      current.on('close', onClose);
    };

    current.on('data', onData);
    current.on('close', onClose);
  });
}
