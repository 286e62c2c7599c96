/**
 * One stream's upstream RTMP/RTMPS session (Cloudflare, or any RTMP server), kept up for as
 * long as the relay session lives:
 *
 * - connect + publish, and after any failure try again on the retry schedule
 *   (`retry-schedule.ts`: at most 500 ms apart for the first 30 s of an outage, then
 *   doubling to 5 s), so a receiver that comes back is published to again within a second;
 * - an upstream that keeps its connection open but stops reading is found by the RTMP
 *   acknowledgements it no longer sends (`ack-watch.ts`) and reconnected;
 * - nothing is lost to an outage the outage buffer spans (`outage-buffer.ts`, 10 s and
 *   16 MiB by default): each new session gets the metadata and sequence headers, then every
 *   frame from the last keyframe the receiver had acknowledged before the outage through the
 *   outage, paced by the socket, then the live stream; timestamps carry on (the fixer's
 *   timeline never restarts);
 * - backpressure: when the socket holds more than `maxQueuedBytes`, live media is dropped,
 *   whole frames, up to the next keyframe (sent once the queue is under half the limit);
 *   metadata and sequence headers never are. Memory stays bounded by the queue limit plus the
 *   outage buffer.
 */
import { sessionTicker } from '../media/session-ticker.js';
import type { Logger } from 'pino';
import { encodeAmf0 } from '../media/amf0-writer.js';
import { RtmpClient } from '../rtmp/client.js';
import { redactUrl } from '../rtmp/rtmp-url.js';
import { kindOf, type MediaTag } from '../media/tag-kinds.js';
import { AckWatch } from './ack-watch.js';
import { RelayError, RelayErrorCode } from './errors.js';
import { OutageBuffer, SKIPPED, type BufferedTag } from './outage-buffer.js';
import { retryDelayMs } from './retry-schedule.js';
import {
  DEFAULT_UPSTREAM_OPTIONS,
  newUpstreamStats,
  type UpstreamOptions,
  type UpstreamStats,
} from './upstream-options.js';

export * from './upstream-options.js';

/** `@setDataFrame` in front of an onMetaData body: how a publisher sends metadata. */
const SET_DATA_FRAME = encodeAmf0('@setDataFrame');
/**
 * What a receiver may have read (and acknowledged) but not yet stored, in bytes: a resume
 * starts at a keyframe at least this far before the acknowledged point. FFmpeg as a receiver
 * was measured losing about 150 kB of what it had read when killed.
 */
const RECEIVER_READ_AHEAD_BYTES = 512 * 1024;

type State = 'connecting' | 'live' | 'waiting' | 'closed';

export class Upstream {
  readonly stats: UpstreamStats = newUpstreamStats();
  readonly redactedUrl: string;
  private readonly options: UpstreamOptions;
  private log: Logger;
  /** What the RTMP client of the next session logs through. */
  private clientLogger: Logger;
  private state: State = 'waiting';
  private client: RtmpClient | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  /** Removes the health check from the shared ticker (null: not running). */
  private untickHealth: (() => void) | null = null;
  private ackWatch: AckWatch | null = null;
  /** Failed attempts in this outage, and how many of them after its fast phase. */
  private failures = 0;
  private slowFailures = 0;
  /** When the current outage began (the first connect counts as one), or null while live. */
  private outageSinceMs: number | null = null;
  private droppedThisOutage = 0;
  private dropping = false;
  private started = false;
  /** Everything a new session needs first, and what the current one has not been sent yet. */
  private readonly buffer: OutageBuffer;

  constructor(options: Partial<UpstreamOptions> & Pick<UpstreamOptions, 'url' | 'logger'>) {
    this.options = { ...DEFAULT_UPSTREAM_OPTIONS, ...options };
    this.redactedUrl = redactUrl(this.options.url);
    this.clientLogger = this.options.logger;
    this.log = this.options.logger.child({ upstream: this.redactedUrl });
    this.buffer = new OutageBuffer(
      { maxMs: this.options.outageBufferMs, maxBytes: this.options.outageBufferBytes },
      (frames) => this.onBufferDropped(frames),
    );
  }

  /** Connect (once): the relay session calls it when its first publisher is attached. */
  start(): void {
    if (this.state === 'waiting' && !this.started && this.retryTimer === null) {
      this.started = true;
      this.outageSinceMs = Date.now();
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

  /** What the outage buffer holds now. */
  get buffered(): { frames: number; bytes: number; spanMs: number; pending: number } {
    const b = this.buffer;
    return { frames: b.frames, bytes: b.bytes, spanMs: b.spanMs, pending: b.pendingCount };
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
    const behind = this.buffer.pendingCount > 0;
    const entry = this.buffer.push(tag);
    const client = this.client;
    if (this.state !== 'live' || client === null) {
      this.stats.framesWhileDown++;
      return;
    }
    if (behind) {
      // A replay is under way: this tag goes out after it, in order.
      this.pump();
      return;
    }
    const offset = client.bytesWritten;
    const written = this.sendLive(entry);
    if (entry.held) entry.offset = written ? offset : SKIPPED;
    this.buffer.caughtUp();
    if (entry.keyframe) this.buffer.trimTo(this.safeOffset(client));
  }

  /** FCUnpublish + deleteStream, then close; no more reconnects. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.stopHealthChecks();
    const client = this.client;
    this.client = null;
    if (client !== null) await client.close();
    this.log.info({ ...this.stats }, 'upstream closed');
  }

  /** A live tag with nothing pending: written unless backpressure drops it; returns whether it was. */
  private sendLive(entry: BufferedTag): boolean {
    const client = this.client as RtmpClient;
    if (!entry.header) {
      const queued = client.writableLength;
      if (queued > this.options.maxQueuedBytes) this.dropping = true;
      if (this.dropping) {
        if (!(entry.keyframe && queued <= this.options.maxQueuedBytes / 2)) {
          this.stats.framesDroppedBackpressure++;
          this.options.events?.onDropped?.('upstream-backpressure', 1);
          return false;
        }
        this.dropping = false;
        this.log.info(
          { dropped: this.stats.framesDroppedBackpressure },
          'upstream caught up: sending again from a keyframe',
        );
      }
    }
    this.write(entry.tag);
    return true;
  }

  /**
   * Write what the current session has not been sent yet, in order, while the socket holds
   * under half the queue limit; the socket's drain brings the rest. Nothing is dropped here:
   * the outage buffer's own bounds apply while it waits.
   */
  private pump(): void {
    const client = this.client;
    if (client === null || this.state !== 'live') return;
    for (let entry = this.buffer.nextPending(); entry !== undefined; entry = this.buffer.nextPending()) {
      if (!entry.header && client.writableLength > this.options.maxQueuedBytes / 2) return;
      entry.offset = client.bytesWritten;
      this.write(entry.tag);
      this.buffer.cursor++;
      if (!entry.header) this.stats.framesReplayed++;
    }
  }

  private write(tag: MediaTag): void {
    const client = this.client as RtmpClient;
    const kind = kindOf(tag.tagType);
    const payload = kind === 'data' ? Buffer.concat([SET_DATA_FRAME, tag.data]) : tag.data;
    client.sendMedia(kind, tag.timestampMs, payload);
    this.stats.framesSent++;
    this.stats.bytesSent += payload.length;
  }

  /**
   * The byte of the session at or before which a keyframe is safe to resume from: what the
   * receiver acknowledged (or, if it never does, what the kernel took), less what it may have
   * read without storing it.
   */
  private safeOffset(client: RtmpClient): number {
    const known = client.bytesAcknowledged ?? client.bytesWritten - client.writableLength;
    return known - RECEIVER_READ_AHEAD_BYTES;
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
          windowAckBytes: this.options.ackWindowBytes,
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
      this.onSessionUp(client, Date.now() - started);
    })();
  }

  /** A new session published: headers, then everything pending, then live. */
  private onSessionUp(client: RtmpClient, tookMs: number): void {
    this.client = client;
    this.state = 'live';
    this.stats.connects++;
    const outageMs = Date.now() - (this.outageSinceMs ?? Date.now());
    this.outageSinceMs = null;
    this.failures = 0;
    this.slowFailures = 0;
    this.dropping = false;
    client.on('drain', () => this.pump());
    // A resume (not the stream's start, whose audio has never gone out) may skip the audio kept ahead of its keyframe.
    if (this.stats.connects > 1) this.buffer.startReplay();
    const pending = this.buffer.pendingCount;
    // Metadata and headers take the first pending frame's timestamp: the session starts there.
    const first = this.buffer.nextPending()?.tag.timestampMs;
    for (const header of this.buffer.headers())
      this.write(first === undefined ? header : { ...header, timestampMs: first });
    this.pump();
    this.ackWatch = new AckWatch(this.options.ackTimeoutMs, this.options.ackWindowBytes);
    this.untickHealth ??= sessionTicker.add(() => this.checkHealth());
    this.options.events?.onConnected?.(this.stats.connects);
    const recovered = this.stats.connects > 1;
    if (recovered) {
      this.stats.lastOutageMs = outageMs;
      this.options.events?.onRecovered?.(outageMs, pending);
    }
    this.log.info(
      {
        connects: this.stats.connects,
        resumeFrames: pending,
        resumeFromMs: first,
        tookMs,
        outageMs: recovered ? outageMs : undefined,
        droppedInOutage: recovered ? this.droppedThisOutage : undefined,
      },
      'upstream publishing',
    );
    this.droppedThisOutage = 0;
  }

  /** While live: a receiver that stopped acknowledging is given up on, and the buffer trimmed. */
  private checkHealth(): void {
    const client = this.client;
    if (client === null || this.ackWatch === null) return;
    const stall = this.ackWatch.check(client);
    if (stall === null) return;
    this.stats.stalls++;
    this.options.events?.onStalled?.();
    const err = new RelayError(
      RelayErrorCode.UPSTREAM_ACK_TIMEOUT,
      `no acknowledgement for ${stall.owedForMs} ms with ${stall.unacknowledgedBytes} bytes unacknowledged`,
    );
    this.sessionLost(client, err);
    // Not awaited: a receiver that stopped reading takes the close grace to be cut off.
    void client.close();
  }

  private onClientClose(client: RtmpClient, err: Error | null): void {
    if (this.client !== client || this.state === 'closed') return;
    this.sessionLost(client, err ?? new RelayError(RelayErrorCode.UPSTREAM_CLOSED, 'upstream closed the connection'));
  }

  /** The current session is gone: keep what it may have lost for the next one, and retry. */
  private sessionLost(client: RtmpClient, err: Error): void {
    this.buffer.endSession(this.safeOffset(client));
    this.client = null;
    this.stopHealthChecks();
    this.stats.disconnects++;
    this.outageSinceMs = Date.now();
    this.retry(err);
  }

  private stopHealthChecks(): void {
    this.untickHealth?.();
    this.untickHealth = null;
    this.ackWatch = null;
  }

  private onBufferDropped(frames: number): void {
    this.stats.framesDroppedOutage += frames;
    this.options.events?.onDropped?.('outage-buffer-full', frames);
    if (this.droppedThisOutage === 0)
      this.log.warn(
        {
          code: RelayErrorCode.OUTAGE_BUFFER_FULL,
          maxMs: this.options.outageBufferMs,
          maxBytes: this.options.outageBufferBytes,
        },
        'outage buffer full: dropping to the next keyframe',
      );
    this.droppedThisOutage += frames;
  }

  private retry(err: Error): void {
    if (this.state === 'closed') return;
    this.state = 'waiting';
    this.failures++;
    const outageMs = Date.now() - (this.outageSinceMs ?? Date.now());
    if (outageMs >= this.options.fastPhaseMs) this.slowFailures++;
    const delayMs = retryDelayMs(this.options, this.failures, outageMs, this.slowFailures - 1);
    // The message may not hold the URL (RtmpClient redacts it); the code says what happened.
    this.log.warn(
      {
        code: (err as { code?: string }).code,
        err: err.message,
        retryInMs: delayMs,
        failures: this.failures,
        outageMs,
        buffered: this.buffer.frames,
        bufferedBytes: this.buffer.bytes,
      },
      'upstream down: reconnecting',
    );
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.state !== 'closed') this.connect();
    }, delayMs);
  }
}
