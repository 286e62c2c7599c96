/**
 * The relay's own fault codes, logged as `code` where an upstream session or an output file
 * fails for a reason that is neither a socket's (ECONNREFUSED...) nor the protocol's
 * (`ERR_RTMP_*`). Stable: operators alert on them.
 */
import { CodedError } from '../media/coded-error.js';

export const RelayErrorCode = {
  /** The upstream kept its connection open but stopped acknowledging what it was sent. */
  UPSTREAM_ACK_TIMEOUT: 'ERR_UPSTREAM_ACK_TIMEOUT',
  /** The upstream closed the connection without saying why. */
  UPSTREAM_CLOSED: 'ERR_UPSTREAM_CLOSED',
  /** An outage outlasted the outage buffer: frames were dropped up to the next keyframe. */
  OUTAGE_BUFFER_FULL: 'ERR_UPSTREAM_OUTAGE_BUFFER_FULL',
} as const;

export type RelayErrorCode = (typeof RelayErrorCode)[keyof typeof RelayErrorCode];

export class RelayError extends CodedError<RelayErrorCode> {}
