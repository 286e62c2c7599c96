/**
 * Typed protocol errors. Every violation of RTMP, AMF0 or the handshake that a
 * peer can cause throws an {@link RtmpError} with a stable `code`; the session
 * that hit it is closed and the code is logged. The process never crashes on input.
 */

import { Amf0Error, Amf0ErrorCode } from '../media/amf0.js';
import { CodedError } from '../media/coded-error.js';

/** Stable error codes. Never rename one: operators alert on them. */
export const RtmpErrorCode = {
  /** C0 carried a version other than 3. */
  HANDSHAKE_VERSION: 'ERR_RTMP_HANDSHAKE_VERSION',
  /** The peer closed the socket before the handshake completed. */
  HANDSHAKE_TRUNCATED: 'ERR_RTMP_HANDSHAKE_TRUNCATED',
  /** The handshake did not complete within the configured time. */
  HANDSHAKE_TIMEOUT: 'ERR_RTMP_HANDSHAKE_TIMEOUT',
  /** The peer's S1/S2 (client side) failed validation. */
  HANDSHAKE_INVALID: 'ERR_RTMP_HANDSHAKE_INVALID',
  /** Set Chunk Size outside 1..2^31-1 or above the configured limit. */
  CHUNK_SIZE: 'ERR_RTMP_CHUNK_SIZE',
  /** A message declared a length above the configured limit. */
  MESSAGE_TOO_LARGE: 'ERR_RTMP_MESSAGE_TOO_LARGE',
  /** A message type id that RTMP does not define. */
  MESSAGE_TYPE: 'ERR_RTMP_MESSAGE_TYPE',
  /** A chunk of type 1, 2 or 3 arrived on a chunk stream that never had a type-0 header. */
  NO_PRIOR_HEADER: 'ERR_RTMP_NO_PRIOR_HEADER',
  /** More distinct chunk streams than the configured limit. */
  CHUNK_STREAMS: 'ERR_RTMP_CHUNK_STREAMS',
  /** Bytes held for one session (queued input + partial messages) exceed the limit. */
  BUFFER_LIMIT: 'ERR_RTMP_BUFFER_LIMIT',
  /** A malformed protocol control or user control message. */
  CONTROL_MESSAGE: 'ERR_RTMP_CONTROL_MESSAGE',
  /** AMF0 data ended inside a value. */
  AMF0_TRUNCATED: 'ERR_RTMP_AMF0_TRUNCATED',
  /** AMF0 marker that is unknown, reserved, or not allowed here. */
  AMF0_TYPE: 'ERR_RTMP_AMF0_TYPE',
  /** AMF0 nesting deeper than the limit, or a bad reference. */
  AMF0_STRUCTURE: 'ERR_RTMP_AMF0_STRUCTURE',
  /** AMF3 encoding (message types 15/16/17 or the avmplus marker): not supported. */
  AMF3_UNSUPPORTED: 'ERR_RTMP_AMF3_UNSUPPORTED',
  /** A command that is malformed (missing name, transaction id or arguments). */
  COMMAND_INVALID: 'ERR_RTMP_COMMAND_INVALID',
  /** A command out of order, e.g. publish before connect. */
  COMMAND_STATE: 'ERR_RTMP_COMMAND_STATE',
  /** Media or a command on a message stream id that was never created. */
  STREAM_ID: 'ERR_RTMP_STREAM_ID',
  /** After the handshake, no connect within the configured time. */
  CONNECT_TIMEOUT: 'ERR_RTMP_CONNECT_TIMEOUT',
  /** After connect, no publish or play within the configured time. */
  PUBLISH_TIMEOUT: 'ERR_RTMP_PUBLISH_TIMEOUT',
  /** No bytes in either direction for the configured idle time. */
  IDLE_TIMEOUT: 'ERR_RTMP_IDLE_TIMEOUT',
  /** The server already holds the configured number of connections. */
  CONNECTION_LIMIT: 'ERR_RTMP_CONNECTION_LIMIT',
  /** The peer closed the socket in the middle of a chunk. */
  TRUNCATED: 'ERR_RTMP_TRUNCATED',
  /** A server response that the client cannot use (bad _result, rejected publish). */
  PEER_REJECTED: 'ERR_RTMP_PEER_REJECTED',
  /** A publish without a valid token (missing, malformed, wrong or expired) where tokens are required. */
  PUBLISH_UNAUTHORIZED: 'ERR_RTMP_PUBLISH_UNAUTHORIZED',
  /** A publish on a path whose publisher is live (sending media, another token). */
  PUBLISH_BUSY: 'ERR_RTMP_PUBLISH_BUSY',
  /** One address holds the configured number of concurrent connections. */
  ADDRESS_LIMIT: 'ERR_RTMP_ADDRESS_LIMIT',
  /** One address opened more new connections in a second than configured. */
  ADDRESS_RATE: 'ERR_RTMP_ADDRESS_RATE',
  /** A publisher stayed connected but sent no media for the configured stall time. */
  PUBLISH_STALLED: 'ERR_RTMP_PUBLISH_STALLED',
  /** A bug in rinse, not in the peer: the session is closed, the process goes on. */
  INTERNAL: 'ERR_RTMP_INTERNAL',
} as const;

export type RtmpErrorCode = (typeof RtmpErrorCode)[keyof typeof RtmpErrorCode];

export class RtmpError extends CodedError<RtmpErrorCode> {
  override readonly name = 'RtmpError';
}

export function isRtmpError(err: unknown): err is RtmpError {
  return err instanceof RtmpError;
}

/** The RTMP code an AMF0 error inside a command or data message is reported under. */
const AMF0_CODES: Record<Amf0ErrorCode, RtmpErrorCode> = {
  [Amf0ErrorCode.TRUNCATED]: RtmpErrorCode.AMF0_TRUNCATED,
  [Amf0ErrorCode.TYPE]: RtmpErrorCode.AMF0_TYPE,
  [Amf0ErrorCode.STRUCTURE]: RtmpErrorCode.AMF0_STRUCTURE,
  [Amf0ErrorCode.AMF3_UNSUPPORTED]: RtmpErrorCode.AMF3_UNSUPPORTED,
};

/** A peer's fault as an RtmpError (AMF0 errors under their RTMP codes); null for anything else (a bug of ours). */
export function asRtmpError(err: unknown): RtmpError | null {
  if (err instanceof RtmpError) return err;
  if (err instanceof Amf0Error) return new RtmpError(AMF0_CODES[err.code], err.message);
  return null;
}
