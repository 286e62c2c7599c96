/**
 * Soak publishers: a real H.264 + AAC FLV looped with continuing timestamps, published in
 * real time over real sockets with the project's RTMP client. Each publisher drops its
 * connection at a random moment every 30-90 s (abruptly, as a network loss, or in order,
 * as an app that stops), pauses and reconnects, restarting from a keyframe with its
 * timestamps from 0, as an encoder starting a new session does.
 */
import { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { FlvTag } from '../src/flv/flv-reader.js';
import { RtmpClient } from '../src/rtmp/client.js';
import { TAG_AUDIO, TAG_VIDEO } from '../src/media/tag-kinds.js';
import { seededRandom } from '../test/support/split.js';
import { loadTags, sleep } from './live.js';
import type { FrameLedger } from './soak-ledger.js';

/** FLV AVCPacketType (FLV 10.1 §E.4.3.1): 0 sequence header, 1 NAL units, 2 end of sequence. */
const AVC_SEQUENCE_HEADER = 0;
const AVC_END_OF_SEQUENCE = 2;
/** FLV SoundFormat 10: AAC; AACPacketType 0 is the AudioSpecificConfig. */
const SOUND_FORMAT_AAC = 10;
const VIDEO_FRAME_KEY = 1;
/** As rinse's own upstream client: generous, since on a loaded machine a handshake can wait seconds. */
const CONNECT_TIMEOUT_MS = 10_000;

/** One loop of the source: media tags in file order, its sequence headers, where its keyframes are. */
export class SoakSource {
  readonly tags: FlvTag[];
  readonly headers: FlvTag[];
  /** Length of one loop, ms: the next loop's first frame is one frame interval after this one's last. */
  readonly spanMs: number;
  readonly videoFrames: number;
  readonly audioFrames: number;
  private readonly keyframe: boolean[];

  constructor(file: string) {
    const all = loadTags(file);
    const isHeader = (t: FlvTag): boolean =>
      t.tagType === TAG_VIDEO
        ? t.data[1] === AVC_SEQUENCE_HEADER
        : (t.data[0] ?? 0) >> 4 === SOUND_FORMAT_AAC && t.data[1] === 0;
    this.headers = all.filter(isHeader);
    this.tags = all.filter((t) => !isHeader(t) && !(t.tagType === TAG_VIDEO && t.data[1] === AVC_END_OF_SEQUENCE));
    this.keyframe = this.tags.map((t) => t.tagType === TAG_VIDEO && (t.data[0] ?? 0) >> 4 === VIDEO_FRAME_KEY);
    const video = this.tags.filter((t) => t.tagType === TAG_VIDEO).map((t) => t.timestampMs);
    this.videoFrames = video.length;
    this.audioFrames = this.tags.length - video.length;
    if (video.length < 2 || !this.keyframe.some((k) => k) || this.audioFrames === 0) {
      throw new Error(`${file}: the soak needs H.264 video with keyframes and AAC audio`);
    }
    const frameMs = ((video[video.length - 1] as number) - (video[0] as number)) / (video.length - 1);
    this.spanMs = Math.round(frameMs * video.length);
  }

  /** Position `pos` counts tags across loops: loop = pos / tags, index = pos % tags. */
  tagAt(pos: number): FlvTag {
    return this.tags[pos % this.tags.length] as FlvTag;
  }

  indexOf(pos: number): number {
    return pos % this.tags.length;
  }

  timeOf(pos: number): number {
    return this.tagAt(pos).timestampMs + Math.floor(pos / this.tags.length) * this.spanMs;
  }

  /** The first keyframe at or after `pos`. */
  nextKeyframe(pos: number): number {
    let p = pos;
    while (!this.keyframe[this.indexOf(p)]) p++;
    return p;
  }

  isKeyframe(index: number): boolean {
    return this.keyframe[index] === true;
  }
}

/** murmur3's finaliser: spreads nearby seeds apart before xorshift, whose first outputs follow its seed. */
function mix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** A reproducible random source for stream `index` of a run seeded `seed`. */
export function streamRandom(seed: number, index: number): () => number {
  return seededRandom(mix32(seed * 1_000_003 + index + 1));
}

export interface DropTiming {
  /** A connection lasts a uniform random time in this range, ms. */
  minConnectionMs: number;
  maxConnectionMs: number;
  /** After a drop the publisher waits a uniform random time in this range, ms ... */
  minPauseMs: number;
  maxPauseMs: number;
  /** ... or, this share of the time, `longPauseMs`: past the relay's grace period, so its session ends. */
  longPauseShare: number;
  longPauseMs: number;
}

export interface PublisherStats {
  connections: number;
  connectFailures: number;
  abruptDrops: number;
  orderlyDrops: number;
  longPauses: number;
  /** Connections the relay ended (never expected: each is reported). */
  closedByRelay: number;
}

type State = 'idle' | 'connecting' | 'live' | 'paused' | 'stopped';

/**
 * The client's socket. RtmpClient keeps it private; the soak needs it to cut the connection
 * the way a network loss does and to know how many bytes the kernel had taken at that moment.
 */
function socketOf(client: RtmpClient): Socket {
  const socket = (client as unknown as { connection?: { socket?: unknown } }).connection?.socket;
  if (!(socket instanceof Socket)) throw new Error('soak: RtmpClient no longer holds connection.socket');
  return socket;
}

export class SoakPublisher {
  readonly stats: PublisherStats = {
    connections: 0,
    connectFailures: 0,
    abruptDrops: 0,
    orderlyDrops: 0,
    longPauses: 0,
    closedByRelay: 0,
  };
  private state: State = 'idle';
  private client: RtmpClient | null = null;
  private socket: Socket | null = null;
  /** Where the next tag comes from (a position across loops, see SoakSource.tagAt). */
  private cursor = 0;
  private baseTs = 0;
  private startedAt = 0;
  private dropAt = 0;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly url: string,
    private readonly source: SoakSource,
    private readonly ledger: FrameLedger,
    private readonly random: () => number,
    private readonly timing: DropTiming,
  ) {}

  get live(): boolean {
    return this.state === 'live';
  }

  start(): void {
    this.running = this.connect();
  }

  /** Send every tag that is due by `now` (performance.now()); drop the connection when its time has come. */
  pump(now: number): void {
    if (this.state !== 'live') return;
    const client = this.client as RtmpClient;
    if (client.closed) return;
    if (now >= this.dropAt) {
      this.running = this.drop();
      return;
    }
    const socket = this.socket as Socket;
    for (;;) {
      const ts = this.source.timeOf(this.cursor) - this.baseTs;
      if (this.startedAt + ts > now) break;
      const tag = this.source.tagAt(this.cursor);
      const index = this.source.indexOf(this.cursor);
      this.cursor++;
      // Audio stamped before the restart keyframe: the glasses' muxer drops it, so do we.
      if (ts < 0) continue;
      const kind = tag.tagType === TAG_AUDIO ? 'audio' : 'video';
      client.sendMedia(kind, ts, tag.data);
      this.ledger.sent(kind, index, this.stats.connections, socket.bytesWritten);
    }
  }

  /** End the run: close the connection in order; no reconnect. */
  async stop(): Promise<void> {
    const wasLive = this.state === 'live';
    this.state = 'stopped';
    if (wasLive && this.client !== null) await this.client.close();
    await this.running;
  }

  private uniform(min: number, max: number): number {
    return min + this.random() * (max - min);
  }

  private async connect(): Promise<void> {
    this.state = 'connecting';
    let client: RtmpClient | null = null;
    while (client === null) {
      try {
        client = await RtmpClient.connect(this.url, { connectTimeoutMs: CONNECT_TIMEOUT_MS });
        await client.publish();
      } catch {
        void client?.close();
        client = null;
        this.stats.connectFailures++;
        if ((this.state as State) === 'stopped') return;
        await sleep(1000);
      }
      if ((this.state as State) === 'stopped') {
        await client?.close();
        return;
      }
    }
    this.stats.connections++;
    this.client = client;
    this.socket = socketOf(client);
    const connection = this.stats.connections;
    client.on('close', () => this.onClose(connection));
    for (const h of this.source.headers) client.sendMedia(h.tagType === TAG_AUDIO ? 'audio' : 'video', 0, h.data);
    this.cursor = this.source.nextKeyframe(this.cursor);
    this.baseTs = this.source.timeOf(this.cursor);
    this.startedAt = performance.now();
    this.dropAt = this.startedAt + this.uniform(this.timing.minConnectionMs, this.timing.maxConnectionMs);
    this.state = 'live';
  }

  /** The connection ended without our asking: the relay closed it. Counted, then reconnect. */
  private onClose(connection: number): void {
    if (this.state !== 'live' || connection !== this.stats.connections) return;
    this.stats.closedByRelay++;
    this.state = 'paused';
    this.running = sleep(this.timing.minPauseMs).then(() => this.reconnect());
  }

  private async drop(): Promise<void> {
    const client = this.client as RtmpClient;
    const socket = this.socket as Socket;
    this.state = 'paused';
    if (this.random() < 0.5) {
      this.stats.abruptDrops++;
      // What the kernel has taken reaches the relay; what node still buffers dies with the socket.
      this.ledger.cut(this.stats.connections, socket.bytesWritten - socket.writableLength);
      socket.destroy();
    } else {
      this.stats.orderlyDrops++;
      await client.close();
    }
    const long = this.random() < this.timing.longPauseShare;
    if (long) this.stats.longPauses++;
    await sleep(long ? this.timing.longPauseMs : this.uniform(this.timing.minPauseMs, this.timing.maxPauseMs));
    await this.reconnect();
  }

  private async reconnect(): Promise<void> {
    if (this.state === 'stopped') return;
    await this.connect();
  }
}
