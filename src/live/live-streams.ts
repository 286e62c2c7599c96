/**
 * Live stream paths: one publisher, any number of subscribers, and what a late
 * subscriber needs to start cleanly (metadata, sequence headers, the current GOP).
 *
 * Everything kept is copied or freshly owned: the chunk parser hands out one buffer per
 * message, and sequence headers are copied into their own memory so a small header does
 * not pin a shared allocation for the life of the stream.
 */
import { classifyAudio, classifyVideo } from '../flv/media-tag.js';
import type { MediaFrame } from '../media/tag-kinds.js';
import type {
  PublishClaim,
  PublishedStream,
  StreamHub,
  StreamPublisher,
  StreamSubscriber,
} from '../rtmp/stream-hub.js';

export interface GopCacheLimits {
  /** Frames kept from the latest keyframe on; past this the cache is dropped until the next keyframe. */
  maxGopFrames: number;
  /** Bytes kept likewise. */
  maxGopBytes: number;
}

export const DEFAULT_GOP_CACHE_LIMITS: GopCacheLimits = {
  maxGopFrames: 2500,
  maxGopBytes: 32 * 1024 * 1024,
};

export interface LiveStreamOptions extends GopCacheLimits {
  /**
   * A publisher that has sent no media for this long may be replaced by a new publish on its
   * path (the glasses reconnecting while the old connection lingers), in ms. A live one may not.
   */
  staleAfterMs: number;
}

export const DEFAULT_LIVE_STREAM_OPTIONS: LiveStreamOptions = {
  ...DEFAULT_GOP_CACHE_LIMITS,
  staleAfterMs: 1000,
};

/** Copy into memory of its own (not a pooled slab). */
function own(payload: Buffer): Buffer {
  const copy = Buffer.allocUnsafeSlow(payload.length);
  payload.copy(copy);
  return copy;
}

export class LiveStream implements PublishedStream {
  readonly path: string;
  private publisherRef: StreamPublisher | null = null;
  private readonly subscribers = new Set<StreamSubscriber>();
  private metadata: MediaFrame | null = null;
  private videoHeader: MediaFrame | null = null;
  private audioHeader: MediaFrame | null = null;
  private gop: MediaFrame[] = [];
  private gopBytes = 0;
  /** Whether the GOP cache is collecting (it stops when a GOP outgrows the limits). */
  private gopOpen = false;
  private readonly limits: LiveStreamOptions;
  /** When the publisher last sent media, or took the path (epoch ms). */
  private lastMediaAtMs = 0;
  /** Counters for this path. */
  readonly stats = { framesIn: 0, bytesIn: 0, keyframes: 0, publishers: 0, gopOverflows: 0, publishesRefused: 0 };

  constructor(path: string, limits: LiveStreamOptions) {
    this.path = path;
    this.limits = limits;
  }

  get publisher(): StreamPublisher | null {
    return this.publisherRef;
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  get idle(): boolean {
    return this.publisherRef === null && this.subscribers.size === 0;
  }

  /** Frames a new subscriber gets before live ones, in order. */
  snapshot(): MediaFrame[] {
    const out: MediaFrame[] = [];
    if (this.metadata) out.push(this.metadata);
    if (this.videoHeader) out.push(this.videoHeader);
    if (this.audioHeader) out.push(this.audioHeader);
    if (this.gopOpen) out.push(...this.gop);
    return out;
  }

  /**
   * Take the path for `publisher` unless a live publisher holds it: one that sent media within
   * `staleAfterMs` and does not share the newcomer's credential.
   */
  claim(publisher: StreamPublisher, nowMs = Date.now()): PublishClaim {
    const current = this.publisherRef;
    if (current !== null && current !== publisher) {
      const silentMs = nowMs - this.lastMediaAtMs;
      const sameCredential = current.credential !== undefined && current.credential === publisher.credential;
      if (!sameCredential && silentMs < this.limits.staleAfterMs) {
        this.stats.publishesRefused++;
        return { ok: false, silentMs, staleAfterMs: this.limits.staleAfterMs };
      }
    }
    this.attachPublisher(publisher);
    return { ok: true, stream: this };
  }

  /** Take the path for `publisher` unconditionally (the relay's own outputs). */
  attachPublisher(publisher: StreamPublisher): void {
    const previous = this.publisherRef;
    this.publisherRef = publisher;
    this.lastMediaAtMs = Date.now();
    this.stats.publishers++;
    this.resetCaches();
    if (previous) {
      previous.replaced(publisher.id);
      for (const s of this.subscribers) s.onPublishEnd?.(this.path);
    }
    for (const s of this.subscribers) s.onPublishStart?.(this.path);
  }

  /** Detach `publisher` if it still owns the path. Returns whether it did. */
  detachPublisher(publisher: StreamPublisher): boolean {
    if (this.publisherRef !== publisher) return false;
    this.publisherRef = null;
    this.resetCaches();
    for (const s of this.subscribers) s.onPublishEnd?.(this.path);
    return true;
  }

  subscribe(subscriber: StreamSubscriber): void {
    this.subscribers.add(subscriber);
    if (this.publisherRef) {
      subscriber.onPublishStart?.(this.path);
      for (const frame of this.snapshot()) subscriber.onFrame(frame);
    }
  }

  unsubscribe(subscriber: StreamSubscriber): void {
    this.subscribers.delete(subscriber);
  }

  /** A metadata (onMetaData) body, without any @setDataFrame wrapper. */
  pushMetadata(timestampMs: number, body: Buffer): void {
    const frame: MediaFrame = {
      kind: 'data',
      timestampMs,
      payload: own(body),
      isKeyframe: false,
      isSequenceHeader: false,
    };
    this.metadata = frame;
    this.fanOut(frame);
  }

  pushMedia(kind: 'audio' | 'video', timestampMs: number, payload: Buffer): void {
    this.lastMediaAtMs = Date.now();
    this.stats.framesIn++;
    this.stats.bytesIn += payload.length;
    let isKeyframe = false;
    let isSequenceHeader = false;
    if (kind === 'video') {
      const v = classifyVideo(payload);
      isKeyframe = v.isKeyframe;
      isSequenceHeader = v.isSequenceHeader;
    } else {
      isSequenceHeader = classifyAudio(payload).isSequenceHeader;
    }
    let frame: MediaFrame;
    if (isSequenceHeader) {
      frame = { kind, timestampMs, payload: own(payload), isKeyframe, isSequenceHeader };
      if (kind === 'video') this.videoHeader = frame;
      else this.audioHeader = frame;
    } else {
      frame = { kind, timestampMs, payload, isKeyframe, isSequenceHeader };
      this.cache(frame);
    }
    this.fanOut(frame);
  }

  private cache(frame: MediaFrame): void {
    if (frame.isKeyframe) {
      this.stats.keyframes++;
      this.gop = [frame];
      this.gopBytes = frame.payload.length;
      this.gopOpen = true;
      return;
    }
    if (!this.gopOpen) return;
    this.gop.push(frame);
    this.gopBytes += frame.payload.length;
    if (this.gop.length > this.limits.maxGopFrames || this.gopBytes > this.limits.maxGopBytes) {
      this.stats.gopOverflows++;
      this.gop = [];
      this.gopBytes = 0;
      this.gopOpen = false;
    }
  }

  private fanOut(frame: MediaFrame): void {
    for (const s of this.subscribers) s.onFrame(frame);
  }

  private resetCaches(): void {
    this.metadata = null;
    this.videoHeader = null;
    this.audioHeader = null;
    this.gop = [];
    this.gopBytes = 0;
    this.gopOpen = false;
  }
}

/** All live paths of one server: the hub its sessions publish to and play from. */
export class LiveStreamRegistry implements StreamHub {
  private readonly streams = new Map<string, LiveStream>();
  private readonly limits: LiveStreamOptions;

  constructor(limits: Partial<LiveStreamOptions> = {}) {
    this.limits = { ...DEFAULT_LIVE_STREAM_OPTIONS, ...limits };
  }

  get(path: string): LiveStream | undefined {
    return this.streams.get(path);
  }

  /** Paths with a publisher. */
  publishedPaths(): string[] {
    return [...this.streams.values()].filter((s) => s.publisher !== null).map((s) => s.path);
  }

  /** Take the path for `publisher`; a previous publisher is told it was replaced. */
  publish(path: string, publisher: StreamPublisher): LiveStream {
    const stream = this.obtain(path);
    stream.attachPublisher(publisher);
    return stream;
  }

  /** Take the path unless a live publisher holds it ({@link LiveStream.claim}). */
  claim(path: string, publisher: StreamPublisher): PublishClaim {
    const stream = this.obtain(path);
    const claim = stream.claim(publisher);
    if (!claim.ok) this.release(stream);
    return claim;
  }

  unpublish(path: string, publisher: StreamPublisher): void {
    const stream = this.streams.get(path);
    if (!stream) return;
    stream.detachPublisher(publisher);
    this.release(stream);
  }

  /** Attach a subscriber; it waits on the path when nobody publishes yet. */
  subscribe(path: string, subscriber: StreamSubscriber): LiveStream {
    const stream = this.obtain(path);
    stream.subscribe(subscriber);
    return stream;
  }

  unsubscribe(path: string, subscriber: StreamSubscriber): void {
    const stream = this.streams.get(path);
    if (!stream) return;
    stream.unsubscribe(subscriber);
    this.release(stream);
  }

  private obtain(path: string): LiveStream {
    let stream = this.streams.get(path);
    if (!stream) {
      stream = new LiveStream(path, this.limits);
      this.streams.set(path, stream);
    }
    return stream;
  }

  private release(stream: LiveStream): void {
    if (stream.idle) this.streams.delete(stream.path);
  }
}
