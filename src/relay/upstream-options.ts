/** What an {@link Upstream} is configured with, tells, and counts. */
import type { Logger } from 'pino';
import { DEFAULT_RETRY_SCHEDULE, type RetrySchedule } from './retry-schedule.js';

export type UpstreamDropReason = 'upstream-backpressure' | 'outage-buffer-full';

export interface UpstreamEvents {
  /** A session is up; `connects` counts them. */
  onConnected?(connects: number): void;
  /** Frames dropped, and why. */
  onDropped?(reason: UpstreamDropReason, frames: number): void;
  /** A session is up again `outageMs` after the last one was lost, resending `replayedFrames`. */
  onRecovered?(outageMs: number, replayedFrames: number): void;
  /** A session was given up because the receiver stopped acknowledging. */
  onStalled?(): void;
}

export interface UpstreamOptions extends RetrySchedule {
  /** rtmp:// or rtmps:// with app and stream key. Never logged unredacted. */
  url: string;
  logger: Logger;
  /** TCP + TLS + handshake + connect, in ms. */
  connectTimeoutMs: number;
  /** Socket send queue above which live media frames are dropped to the next keyframe, in bytes. */
  maxQueuedBytes: number;
  /** Outage buffer bounds: the DTS span (ms) and the bytes held for the next session. */
  outageBufferMs: number;
  outageBufferBytes: number;
  /** An acknowledgement owed for this long with none coming: the session is stalled, in ms. */
  ackTimeoutMs: number;
  /** Window Acknowledgement Size announced to the receiver, in bytes: how often it acknowledges. */
  ackWindowBytes: number;
  /** rtmps: certificate checks (tests only turn this off). */
  rejectUnauthorized: boolean;
  events?: UpstreamEvents;
}

export const DEFAULT_UPSTREAM_OPTIONS: Omit<UpstreamOptions, 'url' | 'logger'> = {
  ...DEFAULT_RETRY_SCHEDULE,
  connectTimeoutMs: 10_000,
  maxQueuedBytes: 4 * 1024 * 1024,
  outageBufferMs: 10_000,
  outageBufferBytes: 16 * 1024 * 1024,
  ackTimeoutMs: 3_000,
  ackWindowBytes: 256 * 1024,
  rejectUnauthorized: true,
};

export interface UpstreamStats {
  connects: number;
  connectFailures: number;
  disconnects: number;
  /** Sessions given up because the receiver stopped acknowledging. */
  stalls: number;
  framesSent: number;
  bytesSent: number;
  /** Dropped because the upstream socket was backed up (to the next keyframe). */
  framesDroppedBackpressure: number;
  /** Dropped because an outage outlasted the outage buffer (to the next keyframe). */
  framesDroppedOutage: number;
  /** Sent again, or late, from the outage buffer by a new session. */
  framesReplayed: number;
  /** Not sent at once because no upstream session was up (they go out from the outage buffer). */
  framesWhileDown: number;
  /** How long the latest outage lasted, loss to publishing again, in ms. */
  lastOutageMs: number | null;
}

export function newUpstreamStats(): UpstreamStats {
  return {
    connects: 0,
    connectFailures: 0,
    disconnects: 0,
    stalls: 0,
    framesSent: 0,
    bytesSent: 0,
    framesDroppedBackpressure: 0,
    framesDroppedOutage: 0,
    framesReplayed: 0,
    framesWhileDown: 0,
    lastOutageMs: null,
  };
}
