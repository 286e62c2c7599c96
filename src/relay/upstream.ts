/**
 * One stream's upstream RTMP/RTMPS session (Cloudflare, or any RTMP server), kept up for as
 * long as the relay session lives:
 *
 * - connect + publish, and reconnect after any failure with capped exponential backoff
 *   (first retry after 250 ms, doubling, at most 5 s apart);
 * - on every (re)connect, resume with the metadata, the sequence headers and the frames since
 *   the latest video keyframe, so the receiver can decode at once; timestamps carry on (the
 *   fixer's timeline never restarts);
 * - backpressure: when the socket holds more than `maxQueuedBytes`, media is dropped, whole
 *   frames, up to the next keyframe (sent once the queue is under half the limit); metadata
 *   and sequence headers are never dropped. Memory stays bounded by the queue limit plus the
 *   resume cache.
 */
import type { Logger } from 'pino';
import { encodeAmf0 } from '../media/amf0-writer.js';
import { RtmpClient } from '../rtmp/client.js';
import { redactUrl } from '../rtmp/rtmp-url.js';
import { classifyVideo } from '../flv/media-tag.js';
import { ResumeCache } from '../live/resume-cache.js';
import { TAG_VIDEO, kindOf, type MediaTag } from '../media/tag-kinds.js';

export interface UpstreamOptions {
  /** rtmp:// or rtmps:// with app and stream key. Never logged unredacted. */
  url: string;
  logger: Logger;
  /** TCP + TLS + handshake + connect, in ms. */
  connectTimeoutMs: number;
  /** First reconnect delay, doubled per failure, in ms. */
  firstRetryMs: number;
  /** Reconnect delay cap, in ms. */
  maxRetryMs: number;
  /** Socket send queue above which media frames are dropped to the next keyframe, in bytes. */
  maxQueuedBytes: number;
  /** Resume cache bounds: frames since the latest keyframe kept for a reconnect. */
  maxCacheFrames: number;
  maxCacheBytes: number;
  /** rtmps: certificate checks (tests only turn this off). */
  rejectUnauthorized: boolean;
  /** Told when a session comes up (connects counts them) and when a frame is dropped. */
  events?: { onConnected?(connects: number): void; onDropped?(reason: 'upstream-backpressure'): void };
}

export const DEFAULT_UPSTREAM_OPTIONS: Omit<UpstreamOptions, 'url' | 'logger'> = {
  connectTimeoutMs: 10_000,
  firstRetryMs: 250,
  maxRetryMs: 5_000,
  maxQueuedBytes: 4 * 1024 * 1024,
  maxCacheFrames: 1500,
  maxCacheBytes: 24 * 1024 * 1024,
  rejectUnauthorized: true,
};

export interface UpstreamStats {
  connects: number;
  connectFailures: number;
  disconnects: number;
  framesSent: number;
  bytesSent: number;
  /** Dropped because the upstream socket was backed up (to the next keyframe). */
  framesDroppedBackpressure: number;
  /** Not sent because no upstream session was up (they may go out from the resume cache). */
  framesWhileDown: number;
}

/** `@setDataFrame` in front of an onMetaData body: how a publisher sends metadata. */
const SET_DATA_FRAME = encodeAmf0('@setDataFrame');

type State = 'connecting' | 'live' | 'waiting' | 'closed';

export class Upstream {
  readonly stats: UpstreamStats = {
    connects: 0,
    connectFailures: 0,
    disconnects: 0,
    framesSent: 0,
    bytesSent: 0,
    framesDroppedBackpressure: 0,
    framesWhileDown: 0,
  };
  readonly redactedUrl: string;
  private readonly options: UpstreamOptions;
  private log: Logger;
  /** What the RTMP client of the next session logs through. */
  private clientLogger: Logger;
  private state: State = 'waiting';
  private client: RtmpClient | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private dropping = false;
  private started = false;
  /** Metadata, headers and the frames since the latest keyframe, for each new session. */
  private readonly cache: ResumeCache;

  constructor(options: Partial<UpstreamOptions> & Pick<UpstreamOptions, 'url' | 'logger'>) {
    this.options = { ...DEFAULT_UPSTREAM_OPTIONS, ...options };
    this.redactedUrl = redactUrl(this.options.url);
    this.clientLogger = this.options.logger;
    this.log = this.options.logger.child({ upstream: this.redactedUrl });
    // Until the first session is up everything is kept, so the stream's start is not lost.
    this.cache = new ResumeCache(
      { maxFrames: this.options.maxCacheFrames, maxBytes: this.options.maxCacheBytes },
      true,
    );
  }

  /** Connect (once): the relay session calls it when its first publisher is attached. */
  start(): void {
    if (this.state === 'waiting' && !this.started && this.retryTimer === null) {
      this.started = true;
      this.connect();
    }
  }

  get connected(): boolean {
    return this.state === 'live';
  }

  /** connecting, live (publishing), waiting (to reconnect) or closed. */
  get stateName(): 'connecting' | 'live' | 'waiting' | 'closed' {
    return this.state;
  }

  /** Log through `logger` from now on (the relay session's, bound to the current publisher). */
  setLogger(logger: Logger): void {
    this.clientLogger = logger;
    this.log = logger.child({ upstream: this.redactedUrl });
  }

  /** Bytes waiting in the upstream socket (bounded by maxQueuedBytes plus one frame). */
  get queuedBytes(): number {
    return this.client?.writableLength ?? 0;
  }

  /** A fixer output tag. */
  send(tag: MediaTag): void {
    if (this.state === 'closed') return;
    const critical = this.cache.remember(tag);
    if (this.state !== 'live' || this.client === null) {
      this.stats.framesWhileDown++;
      return;
    }
    if (!critical) {
      const queued = this.client.writableLength;
      if (queued > this.options.maxQueuedBytes) this.dropping = true;
      if (this.dropping) {
        const key = tag.tagType === TAG_VIDEO && classifyVideo(tag.data).isKeyframe;
        if (!(key && queued <= this.options.maxQueuedBytes / 2)) {
          this.stats.framesDroppedBackpressure++;
          this.options.events?.onDropped?.('upstream-backpressure');
          return;
        }
        this.dropping = false;
        this.log.info(
          { dropped: this.stats.framesDroppedBackpressure },
          'upstream caught up: sending again from a keyframe',
        );
      }
    }
    this.write(tag);
  }

  /** FCUnpublish + deleteStream, then close; no more reconnects. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const client = this.client;
    this.client = null;
    if (client !== null) await client.close();
    this.log.info({ ...this.stats }, 'upstream closed');
  }

  private write(tag: MediaTag): void {
    const client = this.client as RtmpClient;
    const kind = kindOf(tag.tagType);
    const payload = kind === 'data' ? Buffer.concat([SET_DATA_FRAME, tag.data]) : tag.data;
    client.sendMedia(kind, tag.timestampMs, payload);
    this.stats.framesSent++;
    this.stats.bytesSent += payload.length;
  }

  private connect(): void {
    this.state = 'connecting';
    const started = Date.now();
    void (async () => {
      let client: RtmpClient | null = null;
      try {
        client = await RtmpClient.connect(this.options.url, {
          logger: this.clientLogger,
          connectTimeoutMs: this.options.connectTimeoutMs,
          tls: { rejectUnauthorized: this.options.rejectUnauthorized },
        });
        client.on('close', (err) => this.onClientClose(client as RtmpClient, err));
        await client.publish();
      } catch (err) {
        client?.removeAllListeners('close');
        void client?.close();
        this.stats.connectFailures++;
        this.retry(err as Error);
        return;
      }
      if (this.state === 'closed') {
        await client.close();
        return;
      }
      this.client = client;
      this.state = 'live';
      this.cache.stopHolding();
      this.stats.connects++;
      this.options.events?.onConnected?.(this.stats.connects);
      this.failures = 0;
      this.dropping = false;
      const resume = this.resumeTags();
      for (const tag of resume) this.write(tag);
      this.log.info(
        { connects: this.stats.connects, resumeFrames: resume.length, tookMs: Date.now() - started },
        'upstream publishing',
      );
    })();
  }

  /** What a fresh upstream session gets first: metadata, sequence headers, the current GOP. */
  private resumeTags(): MediaTag[] {
    const headers = this.cache.headers();
    const frames = this.cache.frames;
    // Metadata and headers take the first frame's timestamp: the new session starts there.
    const first = frames[0]?.timestampMs;
    return [...(first === undefined ? headers : headers.map((t) => ({ ...t, timestampMs: first }))), ...frames];
  }

  private onClientClose(client: RtmpClient, err: Error | null): void {
    if (this.client !== client || this.state === 'closed') return;
    this.client = null;
    this.stats.disconnects++;
    this.retry(err ?? new Error('upstream closed the connection'));
  }

  private retry(err: Error): void {
    if (this.state === 'closed') return;
    this.state = 'waiting';
    const delayMs = Math.min(this.options.maxRetryMs, this.options.firstRetryMs * 2 ** this.failures);
    this.failures++;
    // The message may not hold the URL (RtmpClient redacts it); the code says what happened.
    this.log.warn(
      { code: (err as { code?: string }).code, err: err.message, retryInMs: delayMs, failures: this.failures },
      'upstream down: reconnecting',
    );
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.state !== 'closed') this.connect();
    }, delayMs);
  }
}
