/**
 * What the HTTP API says about one stream (`GET /v1/streams`): its publisher, media, bitrate
 * and GOP as received, mode, repairs and destination. The publish figures are kept by
 * {@link PublishFigures}, which the relay session moves as frames arrive.
 */
import type { StreamFixer } from '../fixer/stream-fixer.js';
import type { StreamMode } from '../fallback/fallback-switch.js';
import type { RelayMetrics } from '../metrics/relay-metrics.js';
import { signedDelta32 } from '../media/timestamps.js';
import { redactUrl } from '../rtmp/rtmp-url.js';
import type { StreamPath } from '../rtmp/stream-path.js';
import type { Upstream } from './upstream.js';
import type { GapFillerDescription } from './gap-bridge.js';

/** Per-stream JSON for the HTTP API. */
export interface StreamDescription {
  userId: string;
  streamId: string;
  path: string;
  publisher: { sessionId: string; address: string | null; since: string } | null;
  publishes: number;
  video: StreamFixer['mediaInfo']['video'];
  audio: StreamFixer['mediaInfo']['audio'];
  bitrateKbps: number | null;
  gopSeconds: number | null;
  mode: StreamMode;
  modeReason: string | null;
  /** The gap filler: running or not, why it cannot run for this stream, what it sent. */
  gapFiller: GapFillerDescription;
  repairs: StreamFixer['repairs'];
  destination:
    | {
        kind: 'rtmp';
        url: string;
        state: string;
        connects: number;
        /** The outage buffer: what a new upstream session would be sent first. */
        buffered: Upstream['buffered'];
        lastOutageMs: number | null;
      }
    | { kind: 'local'; playPath: string; recording: string | null };
  stalls: number;
}

/** The current publish's start, bytes and GOP, for the API and the keyframe-interval histogram. */
export class PublishFigures {
  since: Date | null = null;
  private startedMs = 0;
  private bytes = 0;
  private lastKeyframeTs: number | null = null;
  private lastGopMs: number | null = null;
  private readonly metrics: RelayMetrics | undefined;

  constructor(metrics: RelayMetrics | undefined) {
    this.metrics = metrics;
  }

  /** A publisher attached: its figures start from here (the GOP is kept until a new one is seen). */
  publishStarted(): void {
    this.since = new Date();
    this.startedMs = Date.now();
    this.bytes = 0;
    this.lastKeyframeTs = null;
  }

  /** A media frame of `bytes` arrived. */
  frameIn(bytes: number): void {
    this.bytes += bytes;
  }

  /** A video keyframe arrived with this publisher timestamp; returns the interval since the last one, ms (null: none). */
  keyframeIn(timestampMs: number): number | null {
    let intervalMs: number | null = null;
    if (this.lastKeyframeTs !== null) {
      const gapMs = signedDelta32(timestampMs, this.lastKeyframeTs);
      if (gapMs > 0) {
        this.lastGopMs = gapMs;
        this.metrics?.keyframeInterval.observe(gapMs / 1000);
        intervalMs = gapMs;
      }
    }
    this.lastKeyframeTs = timestampMs;
    return intervalMs;
  }

  /** Received bitrate since the publish started (null in its first half second, or when none publishes). */
  bitrateKbps(publishing: boolean): number | null {
    const seconds = (Date.now() - this.startedMs) / 1000;
    return publishing && seconds > 0.5 ? Math.round((this.bytes * 8) / seconds / 1000) : null;
  }

  get gopSeconds(): number | null {
    return this.lastGopMs === null ? null : this.lastGopMs / 1000;
  }
}

/** What describeStream reads of a relay session. */
export interface DescribedSession {
  path: StreamPath;
  publisher: { id: string; remoteAddress?: string | undefined } | null;
  publishing: boolean;
  publishes: number;
  stalls: number;
  figures: PublishFigures;
  fixer: StreamFixer;
  mode: { mode: StreamMode; reason: string | null };
  gapFiller: GapFillerDescription;
  destinationUrl: string | null;
  upstream: Upstream | null;
  local: { playPath: string; recording: string | null } | null;
}

export function describeStream(s: DescribedSession): StreamDescription {
  const info = s.fixer.mediaInfo;
  const publisher = s.publisher;
  return {
    userId: s.path.userId,
    streamId: s.path.streamId,
    path: s.path.path,
    publisher:
      publisher && s.publishing
        ? {
            sessionId: publisher.id,
            address: publisher.remoteAddress ?? null,
            since: (s.figures.since ?? new Date()).toISOString(),
          }
        : null,
    publishes: s.publishes,
    video: info.video,
    audio: info.audio,
    bitrateKbps: s.figures.bitrateKbps(s.publishing),
    gopSeconds: s.figures.gopSeconds,
    mode: s.mode.mode,
    modeReason: s.mode.reason,
    gapFiller: s.gapFiller,
    repairs: s.fixer.repairs,
    destination:
      s.upstream !== null
        ? {
            kind: 'rtmp',
            url: redactUrl(s.destinationUrl ?? ''),
            state: s.upstream.stateName,
            connects: s.upstream.stats.connects,
            buffered: s.upstream.buffered,
            lastOutageMs: s.upstream.stats.lastOutageMs,
          }
        : { kind: 'local', playPath: s.local?.playPath ?? '', recording: s.local?.recording ?? null },
    stalls: s.stalls,
  };
}
