/**
 * Error codes of the RTMPS ingest: loading its certificate and key, and TLS handshakes that
 * never reach an RTMP session. Stable like the RTMP codes: operators alert on them.
 */
import { CodedError } from '../media/coded-error.js';

export const TlsErrorCode = {
  /** The certificate file cannot be read (missing, unreadable, a directory). */
  CERT_UNREADABLE: 'ERR_TLS_CERT_UNREADABLE',
  /** The key file cannot be read. */
  KEY_UNREADABLE: 'ERR_TLS_KEY_UNREADABLE',
  /** The certificate file holds no PEM certificate that parses. */
  CERT_INVALID: 'ERR_TLS_CERT_INVALID',
  /** The key file holds no private key that parses without a passphrase. */
  KEY_INVALID: 'ERR_TLS_KEY_INVALID',
  /** The key is not the certificate's (a rotation that replaced only one of the two). */
  KEY_MISMATCH: 'ERR_TLS_KEY_MISMATCH',
  /** OpenSSL refused the pair for a TLS context (an algorithm or key size it does not allow). */
  CONTEXT: 'ERR_TLS_CONTEXT',
  /** A client did not complete the TLS handshake within handshakeTimeoutMs. */
  HANDSHAKE_TIMEOUT: 'ERR_TLS_HANDSHAKE_TIMEOUT',
  /** The client closed or reset the connection during the TLS handshake. */
  HANDSHAKE_TRUNCATED: 'ERR_TLS_HANDSHAKE_TRUNCATED',
  /** Any other handshake failure: not TLS at all (plain RTMP on the RTMPS port), no shared
   * protocol or cipher, or the client refused our certificate. */
  HANDSHAKE_FAILED: 'ERR_TLS_HANDSHAKE_FAILED',
} as const;

export type TlsErrorCode = (typeof TlsErrorCode)[keyof typeof TlsErrorCode];

export class TlsError extends CodedError<TlsErrorCode> {
  override readonly name = 'TlsError';
}

/** Socket error codes that mean the peer went away, not that it spoke bad TLS. */
const PEER_GONE = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);

/** The stable code of a `tlsClientError` (Node's or OpenSSL's own code goes in the log as the reason). */
export function handshakeErrorCode(err: NodeJS.ErrnoException): TlsErrorCode {
  if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return TlsErrorCode.HANDSHAKE_TIMEOUT;
  if (err.code !== undefined && PEER_GONE.has(err.code)) return TlsErrorCode.HANDSHAKE_TRUNCATED;
  return TlsErrorCode.HANDSHAKE_FAILED;
}
