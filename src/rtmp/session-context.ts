/**
 * What the RTMP server hands each session and hears back: limits, the hub, the publish
 * hook, and how a session ended.
 */
import type { Logger } from 'pino';
import type { ChunkParserLimits } from './chunk-parser.js';
import type { CommandDeadlineLimits } from './command-deadlines.js';
import type { StreamPath } from './stream-path.js';
import type { StreamHub } from './stream-hub.js';

export interface SessionLimits extends ChunkParserLimits, CommandDeadlineLimits {
  /** Time allowed for the whole handshake, in ms. */
  handshakeTimeoutMs: number;
  /** A session with no bytes in or out for this long is closed, in ms. */
  idleTimeoutMs: number;
  /** Message streams one connection may create. */
  maxStreamsPerSession: number;
  /** Outbound bytes a player may have queued before frames are dropped to the next keyframe. */
  maxOutboundBytes: number;
}

/** What the relay says about a publish before any media is accepted. */
export type PublishDecision = { ok: true } | { ok: false; reason: string };

export interface PublishRequest {
  readonly path: StreamPath;
  readonly sessionId: string;
  readonly remote: string;
}

export interface SessionContext {
  readonly hub: StreamHub;
  /**
   * Asked before a publish is accepted (destination lookup). A rejection answers
   * NetStream.Publish.BadName and ends the session; until the answer, media is not accepted.
   */
  readonly authorizePublish?: (request: PublishRequest) => Promise<PublishDecision>;
  /**
   * Secrets a publish token may be signed with (several during a rotation). Empty or absent:
   * local mode, publish needs no token.
   */
  readonly publishSecrets?: readonly string[];
  /** Told each time a player's frame is dropped because the player cannot keep up. */
  readonly onPlayerFrameDropped?: () => void;
  /** Apps a client may publish to. */
  readonly publishApps: readonly string[];
  /** Apps a client may play from. */
  readonly playApps: readonly string[];
  readonly limits: SessionLimits;
  readonly logger: Logger;
}

export interface SessionCloseInfo {
  readonly id: string;
  /** The peer's `address:port`. */
  readonly remote: string;
  /** Error code when the session ended on an error. */
  readonly code?: string;
  readonly reason: string;
}

/** Session counters, exposed to the server and later to the metrics API. */
export interface SessionStats {
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  audioFrames: number;
  videoFrames: number;
  framesOut: number;
  framesDropped: number;
  mediaWithoutPublish: number;
  unknownCommands: number;
}

export function newSessionStats(): SessionStats {
  return {
    bytesIn: 0,
    bytesOut: 0,
    messagesIn: 0,
    audioFrames: 0,
    videoFrames: 0,
    framesOut: 0,
    framesDropped: 0,
    mediaWithoutPublish: 0,
    unknownCommands: 0,
  };
}
