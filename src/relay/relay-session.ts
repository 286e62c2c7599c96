/**
 * One stream's life in the relay: publisher -> fixer -> destination, across publisher
 * reconnects and upstream failures.
 *
 * - The session subscribes to its publish path in the server's registry, so it sees every
 *   publisher of that path in turn (a reconnecting one, or one that replaces a stale one).
 * - A publisher that leaves starts the grace period; one that publishes the same path
 *   within it continues on the same upstream session and the same timeline (the fixer's
 *   newPublish). Past the grace period the upstream is unpublished and the session ends.
 * - A publisher that stays connected but sends no media for `stallMs` is disconnected, so
 *   its own reconnect logic can bring it back.
 * - While a publisher is away or silent, the gap filler (gap-bridge.ts) sends a frozen
 *   picture and silence on the wall clock, so the broadcast stays on time.
 * - With a capture directory, every publish is written as received to its own FLV file.
 */
import type { Logger } from 'pino';
import { StreamFixer, type FixerOptions } from '../fixer/stream-fixer.js';
import type { RepairRecord, TranscodeDecision } from '../fixer/repairs.js';
import type { LiveStreamRegistry } from '../live/live-streams.js';
import type { MediaFrame } from '../media/tag-kinds.js';
import type { StreamSubscriber } from '../rtmp/stream-hub.js';
import type { StreamPath } from '../rtmp/stream-path.js';
import {
  FallbackSwitch,
  type FallbackOptions,
  type StreamMode,
  type TranscodeSlots,
} from '../fallback/fallback-switch.js';
import { TranscodeReason } from '../fixer/repairs.js';
import type { Destination } from './destination.js';
import { FlvFileSink, fileStamp } from './flv-file-sink.js';
import { LocalOutput } from './local-output.js';
import { Upstream, type UpstreamOptions } from './upstream.js';
import type { RelayMetrics } from '../metrics/relay-metrics.js';
import { RepairKind } from '../fixer/repairs.js';
import { tagTypeOf, type MediaTag } from '../media/tag-kinds.js';
import { TrafficMeter } from './traffic-meter.js';
import { PublishFigures, describeStream, type StreamDescription } from './stream-description.js';
import { upstreamEvents } from './upstream-metrics.js';
import { DEFAULT_GAP_FILLER_OPTIONS, GapBridge, type GapFillerOptions } from './gap-bridge.js';
import { sessionTicker } from '../media/session-ticker.js';
import type { HistorySnapshot, StreamHistory } from './stream-history.js';

export type { StreamDescription } from './stream-description.js';

export interface RelaySessionOptions {
  /** How long the upstream stays open after the publisher left, in ms. */
  graceMs: number;
  /** A publisher with no media for this long is disconnected, in ms. */
  stallMs: number;
  /** Write every incoming publish, unmodified, under this directory. */
  captureDir: string | null;
  /** Local mode: where cleaned streams are recorded (null: not recorded). */
  recordingsDir: string | null;
  fixer: Partial<FixerOptions>;
  upstream: Partial<Omit<UpstreamOptions, 'url' | 'logger'>>;
  /** auto: transcode when the fixer says remux cannot do; always/never: as said. */
  transcode: 'auto' | 'always' | 'never';
  /** userId/streamId pairs always transcoded. */
  transcodeStreams: readonly string[];
  /** ffmpeg and transcode settings; null: transcoding unavailable. */
  fallback: FallbackOptions | null;
  /** Filler while the publisher is away or silent (gap-bridge.ts). */
  gapFiller: GapFillerOptions;
}

/** At a stream's normal end, ffmpeg may take this long to hand over what it still holds, in ms. */
const TRANSCODE_DRAIN_MS = 15_000;

export const DEFAULT_RELAY_SESSION_OPTIONS: RelaySessionOptions = {
  graceMs: 10_000,
  stallMs: 5_000,
  captureDir: null,
  recordingsDir: 'recordings',
  // Decided a little before Cloudflare's 10 s, so the first transcoded keyframe (the frame
  // after the switch) still lands within 10 s of the last source keyframe.
  fixer: { maxKeyframeIntervalMs: 9_800 },
  upstream: {},
  transcode: 'auto',
  transcodeStreams: [],
  fallback: null,
  gapFiller: DEFAULT_GAP_FILLER_OPTIONS,
};

export interface RelaySessionStats {
  publishes: number;
  stalls: number;
  framesIn: number;
  bytesIn: number;
  repairs: number;
}

type Output = Upstream | LocalOutput;

export class RelaySession implements StreamSubscriber {
  readonly path: StreamPath;
  readonly destination: Destination;
  readonly stats: RelaySessionStats = { publishes: 0, stalls: 0, framesIn: 0, bytesIn: 0, repairs: 0 };
  private readonly registry: LiveStreamRegistry;
  private readonly options: RelaySessionOptions;
  /** Bound to userId, streamId and, while one publishes, the publisher's session id. */
  private log: Logger;
  private readonly baseLog: Logger;
  private readonly onEnded: (session: RelaySession) => void;
  private readonly fixer: StreamFixer;
  private readonly output: Output;
  private readonly fallback: FallbackSwitch | null;
  private capture: FlvFileSink | null = null;
  private publishing = false;
  private lastMediaAtMs = Date.now();
  private graceTimer: NodeJS.Timeout | null = null;
  /** Removes this session's periodic check from the shared ticker. */
  private readonly untick: () => void;
  private readonly bridge: GapBridge;
  private ending: Promise<void> | null = null;
  private decisionLogged = false;
  private readonly metrics: RelayMetrics | undefined;
  private readonly meter: TrafficMeter | null;
  private readonly figures: PublishFigures;
  /** The last minutes, for the live page (kept with the metrics). */
  private readonly history: StreamHistory | null;

  constructor(opts: {
    path: StreamPath;
    destination: Destination;
    registry: LiveStreamRegistry;
    options: RelaySessionOptions;
    logger: Logger;
    onEnded: (session: RelaySession) => void;
    slots?: TranscodeSlots;
    metrics?: RelayMetrics;
  }) {
    this.path = opts.path;
    this.destination = opts.destination;
    this.registry = opts.registry;
    this.options = opts.options;
    this.onEnded = opts.onEnded;
    this.baseLog = opts.logger.child({ relay: opts.path.path, userId: opts.path.userId, streamId: opts.path.streamId });
    this.log = this.baseLog;
    this.metrics = opts.metrics;
    this.meter = opts.metrics ? new TrafficMeter(opts.metrics) : null;
    this.history = this.meter?.history ?? null;
    this.figures = new PublishFigures(opts.metrics);
    this.fixer = new StreamFixer(
      (tag) => (this.fallback ? this.fallback.push(tag) : this.toDestination(tag)),
      { ...opts.options.fixer, seamReady: true, gapFiller: opts.options.gapFiller.enabled },
      (r) => this.onRepair(r),
    );
    this.fallback =
      opts.options.fallback !== null && opts.slots !== undefined && opts.options.transcode !== 'never'
        ? new FallbackSwitch({
            send: (tag) => this.toDestination(tag),
            logger: this.log,
            options: opts.options.fallback,
            slots: opts.slots,
            userId: opts.path.userId,
            frameMs: () => this.fixer.videoFrameDurationMs,
          })
        : null;
    this.output = this.makeOutput(opts);
    this.bridge = new GapBridge({
      fixer: this.fixer,
      options: opts.options.gapFiller,
      graceMs: opts.options.graceMs,
      log: () => this.log,
      metrics: opts.metrics,
      // A transcoded stream is not filled: its ffmpeg stops with the publisher.
      allowed: () => this.ending === null && this.mode.mode === 'remux',
    });
    this.untick = sessionTicker.add((nowMs) => {
      this.checkStall(nowMs);
      this.bridge.check(nowMs, this.publishing);
      this.history?.state(this.fallback?.mode ?? 'remux', this.bridge.state, nowMs);
      this.history?.sample(nowMs);
    });
    this.log.info(
      {
        destination:
          this.output instanceof Upstream
            ? this.output.redactedUrl
            : `local ${this.destination.kind === 'local' ? this.destination.playPath : ''}`,
        recording: this.output instanceof LocalOutput ? this.output.recordingPath : undefined,
      },
      'relay session started',
    );
    const forced =
      opts.options.transcode === 'always' ||
      opts.options.transcodeStreams.includes(`${opts.path.userId}/${opts.path.streamId}`);
    if (forced) this.fallback?.startTranscode('forced by configuration', true);
    this.registry.subscribe(opts.path.path, this);
  }

  /** The upstream, or the local play path and recording. */
  private makeOutput(opts: {
    path: StreamPath;
    destination: Destination;
    registry: LiveStreamRegistry;
    options: RelaySessionOptions;
    metrics?: RelayMetrics;
  }): Output {
    if (opts.destination.kind === 'rtmp') {
      const upstream = new Upstream({
        ...opts.options.upstream,
        url: opts.destination.url,
        logger: this.log,
        ...(opts.metrics ? { events: upstreamEvents(opts.metrics) } : {}),
      });
      opts.metrics?.upstreamBuffers.add(upstream);
      return upstream;
    }
    return new LocalOutput({
      registry: opts.registry,
      playPath: opts.destination.playPath,
      recordingsDir: opts.options.recordingsDir,
      fileName: `${opts.path.userId}-${opts.path.streamId}`,
      logger: this.log,
      onWriteFailed: (code) => opts.metrics?.fileWriteFailures.inc({ kind: 'recording', code }),
    });
  }

  /** remux, transcode (and why), or a transcode that was refused or failed. */
  get mode(): { mode: StreamMode; reason: string | null } {
    return this.fallback ? { mode: this.fallback.mode, reason: this.fallback.reason } : { mode: 'remux', reason: null };
  }

  /** Kill this stream's ffmpeg at once (rinse exits now). */
  killTranscoder(): void {
    this.fallback?.killNow();
  }

  /** The running ffmpeg's pid, if any (tests kill it). */
  get transcoderPid(): number | undefined {
    return this.fallback?.transcoderPid;
  }

  /** True once the session is ending (grace expired or the relay is closing). */
  get isEnding(): boolean {
    return this.ending !== null;
  }

  get upstream(): Upstream | null {
    return this.output instanceof Upstream ? this.output : null;
  }

  get decision(): TranscodeDecision | null {
    return this.fixer.decision;
  }

  get fixerRepairs(): StreamFixer['repairs'] {
    return this.fixer.repairs;
  }

  // StreamSubscriber ------------------------------------------------------------------

  onPublishStart(): void {
    if (this.ending) return;
    this.stats.publishes++;
    if (this.graceTimer) {
      clearTimeout(this.graceTimer);
      this.graceTimer = null;
    }
    const publisher = this.registry.get(this.path.path)?.publisher;
    this.figures.publishStarted();
    if (publisher) {
      // Every line about this stream from now on names the publishing session too.
      this.log = this.baseLog.child({ session: publisher.id });
      this.upstream?.setLogger(this.log);
      this.fallback?.setLogger(this.log);
      this.log.info({ remote: publisher.remoteAddress }, 'publisher attached');
    }
    this.upstream?.start();
    this.fallback?.publisherStarted();
    if (this.stats.publishes > 1) {
      this.metrics?.publisherReconnects.inc();
      this.history?.mark('reconnect', `publish ${this.stats.publishes}`);
      this.fixer.newPublish();
      this.log.info({ publishes: this.stats.publishes }, 'publisher back: continuing the same upstream session');
    }
    this.publishing = true;
    this.lastMediaAtMs = Date.now();
    if (this.options.captureDir !== null) {
      this.capture = new FlvFileSink(
        this.options.captureDir,
        `${this.path.userId}-${this.path.streamId}-${fileStamp()}-${this.stats.publishes}.flv`,
        this.log,
        (code) => this.metrics?.fileWriteFailures.inc({ kind: 'capture', code }),
      );
    }
  }

  onFrame(frame: MediaFrame): void {
    if (this.ending) return;
    const tagType = tagTypeOf(frame.kind);
    this.capture?.writeTag(tagType, frame.timestampMs, frame.payload);
    // One clock read per frame, and the latency bookkeeping only when metrics are collected.
    const arrivedAt = this.meter?.arrived(frame) ?? null;
    if (frame.kind !== 'data') {
      this.lastMediaAtMs = Date.now();
      this.bridge.mediaArrived(this.lastMediaAtMs);
      this.stats.framesIn++;
      this.stats.bytesIn += frame.payload.length;
      this.figures.frameIn(frame.payload.length);
      if (frame.kind === 'video' && frame.isKeyframe && !frame.isSequenceHeader) {
        const intervalMs = this.figures.keyframeIn(frame.timestampMs);
        if (intervalMs !== null) this.history?.keyframe(intervalMs, this.lastMediaAtMs);
      }
    }
    const tag: MediaTag = { tagType, timestampMs: frame.timestampMs, data: frame.payload };
    this.meter?.pushing(arrivedAt);
    this.fixer.push(tag);
    this.meter?.pushing(null);
    const decision = this.fixer.decision;
    if (decision !== null && !this.decisionLogged) {
      this.decisionLogged = true;
      this.onDecision(decision);
    }
  }

  onPublishEnd(): void {
    if (this.ending || !this.publishing) return;
    this.publishing = false;
    this.fixer.flush();
    this.fallback?.publisherEnded(TRANSCODE_DRAIN_MS);
    const capture = this.capture;
    this.capture = null;
    if (capture)
      void capture.close().then(() => this.log.info({ file: capture.path, tags: capture.tags }, 'capture written'));
    this.log.info({ graceMs: this.options.graceMs }, 'publisher left: holding the upstream for the grace period');
    this.graceTimer = setTimeout(() => {
      this.graceTimer = null;
      void this.end('publisher did not come back within the grace period', TRANSCODE_DRAIN_MS);
    }, this.options.graceMs);
  }

  // -------------------------------------------------------------------------------------

  /**
   * Unpublish upstream and leave the path; resolves when done. Idempotent. A transcoder gets
   * `drainMs` to hand over what it still holds (the stream ended normally), or none (shutdown).
   */
  end(reason: string, drainMs = 0): Promise<void> {
    this.ending ??= (async () => {
      if (this.graceTimer) clearTimeout(this.graceTimer);
      this.graceTimer = null;
      this.untick();
      this.bridge.stop();
      this.registry.unsubscribe(this.path.path, this);
      this.fixer.flush();
      await this.capture?.close();
      this.capture = null;
      await this.fallback?.close(drainMs);
      await this.output.close();
      if (this.output instanceof Upstream) this.metrics?.upstreamBuffers.delete(this.output);
      this.log.info(
        {
          reason,
          ...this.stats,
          mode: this.mode.mode,
          modeReason: this.mode.reason,
          transcoder: this.fallback?.stats,
          repairsByKind: this.fixer.repairs,
          upstream: this.upstream?.stats,
        },
        'relay session ended',
      );
      this.onEnded(this);
    })();
    return this.ending;
  }

  private onDecision(decision: TranscodeDecision): void {
    const reason = `${decision.reason}: ${decision.detail}`;
    if (this.fallback === null) {
      this.log.warn(
        { reason, transcode: this.options.transcode },
        'stream needs a transcode, which is off: relaying it remuxed',
      );
      return;
    }
    if (decision.reason === TranscodeReason.UNSUPPORTED_VIDEO_CODEC) {
      // The fixer passes no video it cannot read, and the packaged ffmpeg 4.1 cannot demux
      // enhanced-RTMP FLV: there is nothing to feed a transcoder here.
      this.log.warn({ reason }, 'stream needs a transcode from a codec this build cannot read: relaying what remains');
      return;
    }
    this.fallback.startTranscode(reason);
  }

  private checkStall(nowMs: number): void {
    if (!this.publishing || this.ending) return;
    const silentMs = nowMs - this.lastMediaAtMs;
    if (silentMs < this.options.stallMs) return;
    const publisher = this.registry.get(this.path.path)?.publisher;
    if (!publisher) return;
    this.stats.stalls++;
    this.lastMediaAtMs = Date.now();
    this.log.warn({ silentMs }, 'publisher stalled: disconnecting it');
    this.history?.mark('stall', `silent ${silentMs} ms`, nowMs);
    publisher.endStalled(silentMs);
  }

  /** Everything bound for the destination passes here (remuxed or transcoded). */
  private toDestination(tag: MediaTag): void {
    this.meter?.left(tag);
    this.output.send(tag);
  }

  /** The last minutes for the live page, entries after `sinceMs` (null: no metrics, no history). */
  historySince(sinceMs: number): HistorySnapshot | null {
    return this.history?.snapshot(sinceMs) ?? null;
  }

  /** Per-stream state for the HTTP API. */
  describe(): StreamDescription {
    const upstream = this.upstream;
    return describeStream({
      path: this.path,
      publisher: this.registry.get(this.path.path)?.publisher ?? null,
      publishing: this.publishing,
      publishes: this.stats.publishes,
      stalls: this.stats.stalls,
      figures: this.figures,
      fixer: this.fixer,
      mode: this.mode,
      gapFiller: this.bridge.describe(),
      destinationUrl: this.destination.kind === 'rtmp' ? this.destination.url : null,
      upstream,
      local:
        this.output instanceof LocalOutput
          ? { playPath: this.output.playPath, recording: this.output.recordingPath }
          : null,
    });
  }

  private onRepair(r: RepairRecord): void {
    this.metrics?.repairs.inc({ kind: r.kind });
    if (r.kind === RepairKind.DROPPED_BEFORE_IDR) this.metrics?.framesDropped.inc({ reason: 'before-first-idr' });
    else if (r.kind === RepairKind.DROPPED_IN_GAP) this.metrics?.framesDropped.inc({ reason: 'after-gap' });
    this.stats.repairs++;
    this.history?.mark('repair', r.kind);
    this.log.trace({ kind: r.kind, track: r.track, atMs: r.atMs, amount: r.amount }, 'repair');
  }
}
