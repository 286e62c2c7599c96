/**
 * FLV file writer: Adobe FLV 10.1 §E.2 (header), §E.3 (body) and §E.4.1 (FLVTAG), the
 * inverse of flv-reader.ts. Whatever the reader accepts, writing its header and tags
 * back gives the same bytes: the flags byte, DataOffset and padding, PreviousTagSize0,
 * the tags' reserved bits, stream ids and PreviousTagSize values are written as given
 * (PreviousTagSize defaults to the correct 11 + DataSize; -1 writes none, for a file
 * that ended after its last tag body).
 */
import {
  FLV_FLAG_AUDIO,
  FLV_FLAG_VIDEO,
  FLV_HEADER_BYTES,
  FLV_MAX_DATA_SIZE,
  FLV_PREVIOUS_TAG_SIZE_BYTES,
  FLV_SIGNATURE,
  FLV_TAG_FILTER_BIT,
  FLV_TAG_HEADER_BYTES,
  PREVIOUS_TAG_SIZE_ABSENT,
} from './flv-reader.js';

export interface FlvHeaderInit {
  hasAudio: boolean;
  hasVideo: boolean;
  /** Default 1. */
  version?: number;
  /** Flags byte to start from (reserved bits kept); the audio and video bits come from hasAudio/hasVideo. Default 0. */
  flagsByte?: number;
  /** DataOffset field; default 9 + headerPadding.length. */
  dataOffset?: number;
  /** Bytes between the 9-byte header and DataOffset; zeros when only dataOffset is given. */
  headerPadding?: Buffer;
  /** Default 0; -1 writes none. */
  previousTagSize0?: number;
}

export interface FlvTagInit {
  /** 8 audio, 9 video, 18 script data (5 bits). */
  tagType: number;
  timestampMs: number;
  data: Buffer;
  /** Default 0 (24 bits). */
  streamId?: number;
  /** Default false. */
  filtered?: boolean;
  /** The two reserved bits at the top of the type byte; default 0. */
  reserved?: number;
  /** Default 11 + data.length, the correct value; -1 writes none. */
  previousTagSize?: number;
}

function checkUint(value: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${what} ${value} outside 0..${max}`);
  }
}

/** Validated layout of a header: the caller measures, then writes. */
interface HeaderLayout {
  version: number;
  flagsByte: number;
  dataOffset: number;
  padding: Buffer | null;
  previousTagSize0: number;
  size: number;
}

function layoutHeader(h: FlvHeaderInit): HeaderLayout {
  const version = h.version ?? 1;
  checkUint(version, 0xff, 'FLV version');
  const base = h.flagsByte ?? 0;
  checkUint(base, 0xff, 'FLV flags byte');
  const flagsByte =
    (base & ~(FLV_FLAG_AUDIO | FLV_FLAG_VIDEO)) | (h.hasAudio ? FLV_FLAG_AUDIO : 0) | (h.hasVideo ? FLV_FLAG_VIDEO : 0);
  const padding = h.headerPadding !== undefined && h.headerPadding.length > 0 ? h.headerPadding : null;
  const dataOffset = h.dataOffset ?? FLV_HEADER_BYTES + (padding?.length ?? 0);
  checkUint(dataOffset, 0xffffffff, 'FLV DataOffset');
  if (dataOffset < FLV_HEADER_BYTES) throw new RangeError(`FLV DataOffset ${dataOffset} below ${FLV_HEADER_BYTES}`);
  if (padding !== null && padding.length !== dataOffset - FLV_HEADER_BYTES) {
    throw new RangeError(`FLV header padding of ${padding.length} bytes does not match DataOffset ${dataOffset}`);
  }
  const previousTagSize0 = h.previousTagSize0 ?? 0;
  if (previousTagSize0 !== PREVIOUS_TAG_SIZE_ABSENT) checkUint(previousTagSize0, 0xffffffff, 'PreviousTagSize0');
  const size = dataOffset + (previousTagSize0 === PREVIOUS_TAG_SIZE_ABSENT ? 0 : FLV_PREVIOUS_TAG_SIZE_BYTES);
  return { version, flagsByte, dataOffset, padding, previousTagSize0, size };
}

function writeHeader(l: HeaderLayout, out: Buffer, at: number): number {
  FLV_SIGNATURE.copy(out, at);
  out[at + 3] = l.version;
  out[at + 4] = l.flagsByte;
  out.writeUInt32BE(l.dataOffset, at + 5);
  let pos = at + FLV_HEADER_BYTES;
  const paddingBytes = l.dataOffset - FLV_HEADER_BYTES;
  if (l.padding !== null) l.padding.copy(out, pos);
  else if (paddingBytes > 0) out.fill(0, pos, pos + paddingBytes);
  pos += paddingBytes;
  if (l.previousTagSize0 !== PREVIOUS_TAG_SIZE_ABSENT) {
    out.writeUInt32BE(l.previousTagSize0, pos);
    pos += FLV_PREVIOUS_TAG_SIZE_BYTES;
  }
  return pos;
}

/** Bytes `t` takes in the file (header, body, PreviousTagSize); validates its fields. */
function measureTag(t: FlvTagInit): number {
  checkUint(t.tagType, 0x1f, 'FLV tag type');
  checkUint(t.timestampMs, 0xffffffff, 'FLV tag timestamp');
  checkUint(t.data.length, FLV_MAX_DATA_SIZE, 'FLV tag DataSize');
  checkUint(t.streamId ?? 0, 0xffffff, 'FLV tag StreamID');
  checkUint(t.reserved ?? 0, 3, 'FLV tag reserved bits');
  const pts = t.previousTagSize;
  if (pts === PREVIOUS_TAG_SIZE_ABSENT) return FLV_TAG_HEADER_BYTES + t.data.length;
  if (pts !== undefined) checkUint(pts, 0xffffffff, 'PreviousTagSize');
  return FLV_TAG_HEADER_BYTES + t.data.length + FLV_PREVIOUS_TAG_SIZE_BYTES;
}

/** Writes a tag measured by {@link measureTag}; returns the offset after it. */
function writeTag(t: FlvTagInit, out: Buffer, at: number): number {
  const size = t.data.length;
  const ts = t.timestampMs;
  const streamId = t.streamId ?? 0;
  out[at] = ((t.reserved ?? 0) << 6) | (t.filtered === true ? FLV_TAG_FILTER_BIT : 0) | t.tagType;
  out[at + 1] = size >>> 16;
  out[at + 2] = (size >>> 8) & 0xff;
  out[at + 3] = size & 0xff;
  // §E.4.1: the lower 24 bits, then TimestampExtended with the upper 8.
  out[at + 4] = (ts >>> 16) & 0xff;
  out[at + 5] = (ts >>> 8) & 0xff;
  out[at + 6] = ts & 0xff;
  out[at + 7] = ts >>> 24;
  out[at + 8] = streamId >>> 16;
  out[at + 9] = (streamId >>> 8) & 0xff;
  out[at + 10] = streamId & 0xff;
  let pos = at + FLV_TAG_HEADER_BYTES;
  if (size > 0) t.data.copy(out, pos);
  pos += size;
  const pts = t.previousTagSize;
  if (pts !== PREVIOUS_TAG_SIZE_ABSENT) {
    out.writeUInt32BE(pts ?? FLV_TAG_HEADER_BYTES + size, pos);
    pos += FLV_PREVIOUS_TAG_SIZE_BYTES;
  }
  return pos;
}

/** The FLV header, its padding up to DataOffset and PreviousTagSize0 (§E.2, §E.3). */
export function encodeFlvHeader(h: FlvHeaderInit): Buffer {
  const layout = layoutHeader(h);
  const out = Buffer.allocUnsafe(layout.size);
  writeHeader(layout, out, 0);
  return out;
}

/** One tag (§E.4.1) and the PreviousTagSize after it, in one allocation. */
export function encodeFlvTag(t: FlvTagInit): Buffer {
  const out = Buffer.allocUnsafe(measureTag(t));
  writeTag(t, out, 0);
  return out;
}

/**
 * Several tags, each followed by its PreviousTagSize, in one buffer (one copy per body): a
 * view at the start of `into` when given and large enough, else a new allocation.
 */
export function encodeFlvTags(tags: readonly FlvTagInit[], into?: Buffer): Buffer {
  let total = 0;
  for (const t of tags) total += measureTag(t);
  const out = into !== undefined && into.length >= total ? into.subarray(0, total) : Buffer.allocUnsafe(total);
  let pos = 0;
  for (const t of tags) pos = writeTag(t, out, pos);
  return out;
}

/** A whole file in one allocation: sizes everything first, then writes. */
export function encodeFlv(header: FlvHeaderInit, tags: readonly FlvTagInit[]): Buffer {
  const layout = layoutHeader(header);
  let total = layout.size;
  for (const t of tags) total += measureTag(t);
  const out = Buffer.allocUnsafe(total);
  let pos = writeHeader(layout, out, 0);
  for (const t of tags) pos = writeTag(t, out, pos);
  return out;
}

/** Streaming form: writes the header at once, then one buffer per tag. */
export class FlvFileWriter {
  private readonly write: (bytes: Buffer) => void;
  private written = 0;

  constructor(write: (bytes: Buffer) => void, header: FlvHeaderInit) {
    this.write = write;
    this.emit(encodeFlvHeader(header));
  }

  /** Bytes handed to `write` so far. */
  get bytesWritten(): number {
    return this.written;
  }

  writeTag(t: FlvTagInit): void {
    this.emit(encodeFlvTag(t));
  }

  private emit(bytes: Buffer): void {
    this.written += bytes.length;
    this.write(bytes);
  }
}
