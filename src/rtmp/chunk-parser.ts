/**
 * RTMP chunk stream parser: RTMP 1.0 §5.3 (chunking) and §5.4.1–5.4.2 (Set Chunk Size, Abort).
 *
 * A push parser: `push(bytes)` as they arrive from the socket, and whole messages come
 * out through `onMessage`, synchronously, in arrival order. A chunk header is read
 * whole or not at all; payload bytes are copied once, straight from the socket buffers
 * into the message buffer the receiver will own (carved from this session's slabs:
 * payload-slab.ts).
 *
 * Timestamps: type 1/2 deltas are added modulo 2^32, so a librtmp-style sender that
 * puts audio and video on one chunk stream and sends negative cross-track deltas
 * (e.g. 4294967017 for -279) yields the timestamps it meant. A type-3 chunk that
 * starts a new message reuses the previous header's timestamp field (the delta, or the
 * absolute timestamp after a type 0), as FFmpeg and SRS senders expect.
 *
 * Extended timestamps on type-3 chunks: when the last type 0/1/2 header of the chunk
 * stream carried one, type-3 chunks carry it again. Some old librtmp senders omit it
 * there, so when the 4 bytes do not repeat the value we keep them as payload.
 */
import { ByteQueue } from '../media/byte-queue.js';
import { PayloadSlab } from './payload-slab.js';
import { RtmpError, RtmpErrorCode } from './errors.js';
import { MessageType, isKnownMessageType, type RtmpMessage } from './message-types.js';

/** §5.4.1: every chunk stream starts at 128-byte chunks until Set Chunk Size. */
export const DEFAULT_CHUNK_SIZE = 128;
/** §5.4.1: chunk size is 31 bits; the top bit must be zero. */
export const MAX_CHUNK_SIZE_FIELD = 0x7fffffff;
/** §5.3.1.1: the 24-bit timestamp field value that announces an extended timestamp. */
export const EXTENDED_TIMESTAMP_MARKER = 0xffffff;
/** Slab size for message payloads: about 25 P-frames of a 720p 2.5 Mbit/s stream. */
export const DEFAULT_PAYLOAD_SLAB_BYTES = 256 * 1024;
/** §5.3.1.2: message header length by chunk type (fmt) 0..3. */
const MESSAGE_HEADER_BYTES = [11, 7, 3, 0] as const;

export interface ChunkParserLimits {
  /** Largest message body accepted, in bytes. */
  maxMessageBytes: number;
  /** Distinct chunk stream ids one peer may use. */
  maxChunkStreams: number;
  /** Queued input plus partially assembled messages, in bytes. */
  maxBufferedBytes: number;
  /** Largest Set Chunk Size value accepted (1..2^31-1). */
  maxChunkSize: number;
}

export const DEFAULT_CHUNK_PARSER_LIMITS: ChunkParserLimits = {
  maxMessageBytes: 4 * 1024 * 1024,
  maxChunkStreams: 64,
  maxBufferedBytes: 16 * 1024 * 1024,
  maxChunkSize: MAX_CHUNK_SIZE_FIELD,
};

export interface ChunkParserOptions {
  limits?: Partial<ChunkParserLimits>;
  /** Called for every complete message, Set Chunk Size and Abort included (already applied). */
  onMessage: (message: RtmpMessage) => void;
  /** Slab size for audio and video payloads, in bytes (default 256 KiB); 0: one buffer per message. */
  payloadSlabBytes?: number;
}

/** Per chunk stream state (§5.3.1.2: later headers inherit from earlier ones). */
interface ChunkStream {
  readonly csid: number;
  /** Absolute timestamp of the current (or last) message, modulo 2^32. */
  timestampMs: number;
  /** The last timestamp field read from a type 0/1/2 header: absolute for type 0, a delta otherwise. */
  timestampField: number;
  /** Whether the last type 0/1/2 header used an extended timestamp. */
  extended: boolean;
  messageLength: number;
  typeId: number;
  streamId: number;
  /** Buffer of the message being assembled, or null between messages. */
  payload: Buffer | null;
  /** Bytes of `payload` received so far. */
  received: number;
}

const enum State {
  HEADER,
  PAYLOAD,
}

export class ChunkParser {
  private readonly queue = new ByteQueue();
  private readonly streams = new Map<number, ChunkStream>();
  private readonly limits: ChunkParserLimits;
  private readonly onMessage: (message: RtmpMessage) => void;
  private state = State.HEADER;
  /** The chunk stream whose payload is being read (state PAYLOAD). */
  private current: ChunkStream | null = null;
  /** Payload bytes left in the current chunk. */
  private chunkRemaining = 0;
  /** Sum of the lengths of messages being assembled. */
  private assemblingBytes = 0;
  private inChunkSize = DEFAULT_CHUNK_SIZE;
  private totalBytes = 0;
  private dead = false;
  private readonly payloads: PayloadSlab;

  constructor(options: ChunkParserOptions) {
    this.limits = { ...DEFAULT_CHUNK_PARSER_LIMITS, ...options.limits };
    this.payloads = new PayloadSlab(options.payloadSlabBytes ?? DEFAULT_PAYLOAD_SLAB_BYTES);
    this.onMessage = options.onMessage;
  }

  /** The peer's current chunk size in bytes. */
  get chunkSize(): number {
    return this.inChunkSize;
  }

  /** Bytes pushed so far. */
  get bytesReceived(): number {
    return this.totalBytes;
  }

  /** Bytes held: queued input plus partially assembled messages. */
  get bufferedBytes(): number {
    return this.queue.length + this.assemblingBytes;
  }

  /** Number of chunk streams seen. */
  get chunkStreamCount(): number {
    return this.streams.size;
  }

  /**
   * Feed bytes from the socket. Throws {@link RtmpError} on a protocol violation, after
   * which the parser is dead and the session must end. Errors thrown by `onMessage`
   * propagate too, and also kill the parser.
   */
  push(chunk: Buffer): void {
    if (this.dead) return;
    this.totalBytes += chunk.length;
    this.queue.push(chunk);
    try {
      this.run();
    } catch (err) {
      this.dead = true;
      this.queue.clear();
      throw err;
    }
    if (this.bufferedBytes > this.limits.maxBufferedBytes) {
      this.dead = true;
      this.queue.clear();
      throw new RtmpError(
        RtmpErrorCode.BUFFER_LIMIT,
        `session holds ${this.bufferedBytes} bytes, over the limit of ${this.limits.maxBufferedBytes}`,
      );
    }
  }

  /** Whether a message is partially assembled or a chunk is partially read (for end-of-stream checks). */
  get midMessage(): boolean {
    return this.queue.length > 0 || this.assemblingBytes > 0;
  }

  private run(): void {
    for (;;) {
      if (this.state === State.HEADER) {
        if (!this.readHeader()) return;
      } else if (!this.readPayload()) {
        return;
      }
    }
  }

  /**
   * Reads one chunk header if it is all there. Returns false when more bytes are needed.
   * The helpers get the header's fields as arguments, not in an object: this runs per chunk.
   */
  private readHeader(): boolean {
    const q = this.queue;
    if (q.length < 1) return false;
    const first = q.byteAt(0);
    const fmt = first >> 6;
    const low = first & 0x3f;
    // §5.3.1.1: csid 0 -> 2-byte form (64..319), 1 -> 3-byte form (64..65599).
    const basicBytes = low === 0 ? 2 : low === 1 ? 3 : 1;
    if (q.length < basicBytes) return false;
    const csid = low === 0 ? q.byteAt(1) + 64 : low === 1 ? q.byteAt(2) * 256 + q.byteAt(1) + 64 : low;
    const headerBytes = MESSAGE_HEADER_BYTES[fmt as 0 | 1 | 2 | 3];
    let need = basicBytes + headerBytes;
    if (q.length < need) return false;

    let stream = this.streams.get(csid);
    if (stream === undefined && fmt !== 0) {
      throw new RtmpError(
        RtmpErrorCode.NO_PRIOR_HEADER,
        `chunk type ${fmt} on chunk stream ${csid}, which never had a type-0 header`,
      );
    }

    let extended: boolean;
    let field = 0;
    if (fmt <= 2) {
      field = q.uint24At(basicBytes);
      extended = field === EXTENDED_TIMESTAMP_MARKER;
    } else {
      extended = (stream as ChunkStream).extended;
    }
    if (extended) {
      if (q.length < need + 4) return false;
      if (fmt <= 2) {
        field = q.uint32At(need);
        need += 4;
      } else if (q.uint32At(need) === (stream as ChunkStream).timestampField) {
        need += 4;
      } // else: a sender that omits the repeat on type-3 chunks; the 4 bytes are payload.
    }

    // The whole header is here: validate, then consume.
    if (fmt === 0 || fmt === 1) this.checkMessageHeader(basicBytes, csid);
    if (stream === undefined) stream = this.addStream(csid);
    this.applyHeader(stream, fmt, basicBytes, field, extended);
    q.skip(need);
    return this.startChunk(stream);
  }

  /** Type 0/1 headers: refuses an unknown message type or a message over the size limit. */
  private checkMessageHeader(basicBytes: number, csid: number): void {
    const q = this.queue;
    const typeId = q.byteAt(basicBytes + 6);
    if (!isKnownMessageType(typeId)) {
      throw new RtmpError(RtmpErrorCode.MESSAGE_TYPE, `unknown message type ${typeId} on chunk stream ${csid}`);
    }
    const length = q.uint24At(basicBytes + 3);
    if (length > this.limits.maxMessageBytes) {
      throw new RtmpError(
        RtmpErrorCode.MESSAGE_TOO_LARGE,
        `message of ${length} bytes on chunk stream ${csid}, over the limit of ${this.limits.maxMessageBytes}`,
      );
    }
  }

  private addStream(csid: number): ChunkStream {
    if (this.streams.size >= this.limits.maxChunkStreams) {
      throw new RtmpError(
        RtmpErrorCode.CHUNK_STREAMS,
        `more than ${this.limits.maxChunkStreams} chunk streams in one session`,
      );
    }
    const stream: ChunkStream = {
      csid,
      timestampMs: 0,
      timestampField: 0,
      extended: false,
      messageLength: 0,
      typeId: 0,
      streamId: 0,
      payload: null,
      received: 0,
    };
    this.streams.set(csid, stream);
    return stream;
  }

  /** §5.3.1.2: what the header sets on its chunk stream (the header bytes are still queued). */
  private applyHeader(stream: ChunkStream, fmt: number, basicBytes: number, field: number, extended: boolean): void {
    if (fmt <= 2) {
      // A new header starts a new message; a half-assembled one on this stream is abandoned.
      this.dropPartial(stream);
      stream.timestampField = field;
      stream.extended = extended;
      if (fmt === 0) {
        stream.timestampMs = field;
      } else {
        stream.timestampMs = (stream.timestampMs + field) >>> 0;
      }
      if (fmt <= 1) {
        const q = this.queue;
        stream.messageLength = q.uint24At(basicBytes + 3);
        stream.typeId = q.byteAt(basicBytes + 6);
        if (fmt === 0) stream.streamId = q.uint32LEAt(basicBytes + 7);
      }
    } else if (stream.payload === null) {
      // Type 3 starting a new message: same header, timestamp advanced by the last field.
      stream.timestampMs = (stream.timestampMs + stream.timestampField) >>> 0;
    }
  }

  /** After a header: starts the message if it is new (an empty one is emitted at once), then awaits the chunk's payload. */
  private startChunk(stream: ChunkStream): boolean {
    if (stream.payload === null) {
      if (stream.messageLength === 0) {
        this.emit(stream, EMPTY);
        return true;
      }
      this.assemblingBytes += stream.messageLength;
      if (this.bufferedBytes > this.limits.maxBufferedBytes) {
        throw new RtmpError(
          RtmpErrorCode.BUFFER_LIMIT,
          `session would hold ${this.bufferedBytes} bytes, over the limit of ${this.limits.maxBufferedBytes}`,
        );
      }
      // Media only: every audio/video frame a relay keeps is kept with its neighbours (a GOP),
      // so a slab is pinned only by bytes that count toward the GOP caches' limits; a command
      // or data message never shares a slab with them.
      const media = stream.typeId === MessageType.AUDIO || stream.typeId === MessageType.VIDEO;
      stream.payload = media ? this.payloads.alloc(stream.messageLength) : Buffer.allocUnsafe(stream.messageLength);
      stream.received = 0;
    }
    this.current = stream;
    this.chunkRemaining = Math.min(this.inChunkSize, stream.messageLength - stream.received);
    this.state = State.PAYLOAD;
    return true;
  }

  /** Copies what is available of the current chunk's payload. Returns false when more bytes are needed. */
  private readPayload(): boolean {
    const stream = this.current as ChunkStream;
    const payload = stream.payload as Buffer;
    const count = Math.min(this.chunkRemaining, this.queue.length);
    if (count > 0) {
      this.queue.copyTo(payload, stream.received, count);
      stream.received += count;
      this.chunkRemaining -= count;
    }
    if (this.chunkRemaining > 0) return false;
    this.state = State.HEADER;
    this.current = null;
    if (stream.received === stream.messageLength) {
      stream.payload = null;
      stream.received = 0;
      this.assemblingBytes -= stream.messageLength;
      this.emit(stream, payload);
    }
    return true;
  }

  private emit(stream: ChunkStream, payload: Buffer): void {
    const message: RtmpMessage = {
      csid: stream.csid,
      typeId: stream.typeId,
      streamId: stream.streamId,
      timestampMs: stream.timestampMs,
      payload,
    };
    if (message.typeId === MessageType.SET_CHUNK_SIZE) this.applySetChunkSize(payload);
    else if (message.typeId === MessageType.ABORT) this.applyAbort(payload);
    this.onMessage(message);
  }

  private applySetChunkSize(payload: Buffer): void {
    if (payload.length < 4) {
      throw new RtmpError(RtmpErrorCode.CONTROL_MESSAGE, `Set Chunk Size of ${payload.length} bytes, expected 4`);
    }
    const value = payload.readUInt32BE(0);
    if (value < 1 || value > MAX_CHUNK_SIZE_FIELD || value > this.limits.maxChunkSize) {
      throw new RtmpError(
        RtmpErrorCode.CHUNK_SIZE,
        `Set Chunk Size ${value} outside 1..${Math.min(MAX_CHUNK_SIZE_FIELD, this.limits.maxChunkSize)}`,
      );
    }
    this.inChunkSize = value;
  }

  private applyAbort(payload: Buffer): void {
    if (payload.length < 4) {
      throw new RtmpError(RtmpErrorCode.CONTROL_MESSAGE, `Abort of ${payload.length} bytes, expected 4`);
    }
    const stream = this.streams.get(payload.readUInt32BE(0));
    if (stream !== undefined) this.dropPartial(stream);
  }

  private dropPartial(stream: ChunkStream): void {
    if (stream.payload === null) return;
    this.assemblingBytes -= stream.messageLength;
    stream.payload = null;
    stream.received = 0;
  }
}

const EMPTY = Buffer.alloc(0);
