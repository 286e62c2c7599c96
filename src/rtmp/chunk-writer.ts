/**
 * RTMP chunk stream writer: RTMP 1.0 §5.3.1 (chunk format) and §5.3.2 (header compression).
 *
 * For every message it picks the smallest header that is correct for the receiver:
 * type 0 at the start of a chunk stream, on a new message stream id, or when the
 * timestamp goes backwards; type 1 when length or type changed; type 2 when only the
 * delta changed; type 3 when the whole header, delta included, repeats (after a type 1
 * or 2 header only: receivers disagree on the delta a type 3 inherits from a type 0). Continuation
 * chunks are type 3 and repeat the extended timestamp when the header had one, as
 * FFmpeg and librtmp >= 2.4 expect.
 */
import { DEFAULT_CHUNK_SIZE, EXTENDED_TIMESTAMP_MARKER, MAX_CHUNK_SIZE_FIELD } from './chunk-parser.js';

/** §5.3.1.1: the largest chunk stream id the 3-byte basic header can carry. */
export const MAX_CHUNK_STREAM_ID = 65599;

/** What a message needs to be written. */
export interface OutgoingMessage {
  readonly typeId: number;
  readonly streamId: number;
  /** Absolute timestamp in milliseconds; taken modulo 2^32. */
  readonly timestampMs: number;
  readonly payload: Buffer;
}

interface LastHeader {
  timestampMs: number;
  /** The timestamp field written in the last type 0/1/2 header (absolute for type 0). */
  timestampField: number;
  /** Whether that header was type 1/2, so the field is a delta. */
  fieldIsDelta: boolean;
  length: number;
  typeId: number;
  streamId: number;
}

export class ChunkWriter {
  private outChunkSize = DEFAULT_CHUNK_SIZE;
  private readonly last = new Map<number, LastHeader>();

  /** Our chunk size in bytes. Change it only together with sending Set Chunk Size. */
  get chunkSize(): number {
    return this.outChunkSize;
  }

  set chunkSize(size: number) {
    if (!Number.isInteger(size) || size < 1 || size > MAX_CHUNK_SIZE_FIELD) {
      throw new RangeError(`chunk size ${size} outside 1..${MAX_CHUNK_SIZE_FIELD}`);
    }
    this.outChunkSize = size;
  }

  /** Forget header state (for example after the peer reconnects). */
  reset(): void {
    this.last.clear();
  }

  /**
   * Serialise one message on chunk stream `csid` into one buffer, ready for socket.write:
   * a view at the start of `into` when given and large enough, else a new buffer.
   */
  write(csid: number, message: OutgoingMessage, into?: Buffer): Buffer {
    if (!Number.isInteger(csid) || csid < 2 || csid > MAX_CHUNK_STREAM_ID) {
      throw new RangeError(`chunk stream id ${csid} outside 2..${MAX_CHUNK_STREAM_ID}`);
    }
    const timestampMs = message.timestampMs >>> 0;
    const length = message.payload.length;
    const prev = this.last.get(csid);

    let fmt: 0 | 1 | 2 | 3;
    let field: number;
    if (prev === undefined || prev.streamId !== message.streamId || timestampMs < prev.timestampMs) {
      fmt = 0;
      field = timestampMs;
    } else {
      field = timestampMs - prev.timestampMs;
      if (prev.length !== length || prev.typeId !== message.typeId) fmt = 1;
      // Receivers disagree on what a type-3 message after a type 0 means; only repeat real deltas.
      else if (field !== prev.timestampField || !prev.fieldIsDelta) fmt = 2;
      else fmt = 3;
    }
    // A type-3 message header repeats the previous field, extended or not.
    const extended = field >= EXTENDED_TIMESTAMP_MARKER;

    const basicBytes = csid < 64 ? 1 : csid < 320 ? 2 : 3;
    const headerBytes = basicBytes + (fmt === 0 ? 11 : fmt === 1 ? 7 : fmt === 2 ? 3 : 0) + (extended ? 4 : 0);
    const continuationBytes = basicBytes + (extended ? 4 : 0);
    const chunks = Math.max(1, Math.ceil(length / this.outChunkSize));
    const size = headerBytes + length + (chunks - 1) * continuationBytes;
    const out = into !== undefined && into.length >= size ? into.subarray(0, size) : Buffer.allocUnsafe(size);

    let pos = writeBasicHeader(out, 0, fmt, csid);
    if (fmt <= 2) {
      out.writeUIntBE(extended ? EXTENDED_TIMESTAMP_MARKER : field, pos, 3);
      pos += 3;
      if (fmt <= 1) {
        out.writeUIntBE(length, pos, 3);
        out[pos + 3] = message.typeId;
        pos += 4;
        if (fmt === 0) {
          out.writeUInt32LE(message.streamId >>> 0, pos);
          pos += 4;
        }
      }
    }
    if (extended) pos = out.writeUInt32BE(field >>> 0, pos);

    let offset = 0;
    for (let i = 0; i < chunks; i++) {
      if (i > 0) {
        pos = writeBasicHeader(out, pos, 3, csid);
        if (extended) pos = out.writeUInt32BE(field >>> 0, pos);
      }
      const count = Math.min(this.outChunkSize, length - offset);
      message.payload.copy(out, pos, offset, offset + count);
      pos += count;
      offset += count;
    }

    if (fmt !== 3) {
      this.last.set(csid, {
        timestampMs,
        timestampField: field,
        fieldIsDelta: fmt !== 0,
        length,
        typeId: message.typeId,
        streamId: message.streamId,
      });
    } else {
      (prev as LastHeader).timestampMs = timestampMs;
    }
    return out;
  }
}

function writeBasicHeader(out: Buffer, pos: number, fmt: number, csid: number): number {
  if (csid < 64) {
    out[pos] = (fmt << 6) | csid;
    return pos + 1;
  }
  if (csid < 320) {
    out[pos] = fmt << 6;
    out[pos + 1] = csid - 64;
    return pos + 2;
  }
  out[pos] = (fmt << 6) | 1;
  out[pos + 1] = (csid - 64) & 0xff;
  out[pos + 2] = (csid - 64) >> 8;
  return pos + 3;
}
