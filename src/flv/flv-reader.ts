/**
 * FLV file reader: Adobe FLV 10.1 §E.2 (the FLV header), §E.3 (the FLV file body:
 * PreviousTagSize / tag pairs) and §E.4.1 (FLVTAG, the 11-byte tag header).
 *
 * A push parser: `push(bytes)` as they arrive from a file or socket, and whole tags come
 * out through `onTag`, synchronously, in file order. A tag is emitted once its body and
 * the PreviousTagSize after it are both there (or at `end()`, for a file cut right after
 * a tag body). Headers are read whole or not at all; each tag body is copied once, from
 * the input pieces straight into a buffer the receiver owns; or, with `views`, handed out
 * as a view of the pushed piece when it lies inside one (copied only across pieces).
 *
 * Everything needed to rewrite the file byte for byte is kept: the header's flags byte,
 * DataOffset and any bytes between the 9-byte header and DataOffset, PreviousTagSize0,
 * each tag's reserved bits, filter bit, stream id and PreviousTagSize as found (even
 * when it disagrees with the tag's real size). `encodeFlv` in flv-writer.ts is the inverse.
 */
import { ByteQueue } from '../media/byte-queue.js';
import { MediaFormatError, MediaFormatErrorCode } from './errors.js';

/** §E.2: 'F' 'L' 'V'. */
export const FLV_SIGNATURE = Buffer.from('FLV', 'latin1');
/** §E.2: signature (3) + version (1) + flags (1) + DataOffset (4). */
export const FLV_HEADER_BYTES = 9;
/** §E.4.1: type byte (1) + DataSize (3) + Timestamp (3) + TimestampExtended (1) + StreamID (3). */
export const FLV_TAG_HEADER_BYTES = 11;
/** §E.3: every tag (and the header) is followed by a UI32 PreviousTagSize. */
export const FLV_PREVIOUS_TAG_SIZE_BYTES = 4;
/** §E.4.1: DataSize is a UI24. */
export const FLV_MAX_DATA_SIZE = 0xffffff;
/** §E.2 TypeFlagsAudio. */
export const FLV_FLAG_AUDIO = 0x04;
/** §E.2 TypeFlagsVideo. */
export const FLV_FLAG_VIDEO = 0x01;
/** §E.4.1 Filter bit: the body is preceded by an encryption header. */
export const FLV_TAG_FILTER_BIT = 0x20;
/** PreviousTagSize reported for a tag (or header) after which the file ended. */
export const PREVIOUS_TAG_SIZE_ABSENT = -1;

export interface FlvHeader {
  version: number;
  hasAudio: boolean;
  hasVideo: boolean;
  /** DataOffset field (9 in every FLV 1 file). */
  dataOffset: number;
  /** Flags byte as found (reserved bits kept for byte-exact rewriting). */
  flagsByte: number;
  /** The `dataOffset - 9` bytes between the header and the body (empty in every FLV 1 file). */
  headerPadding: Buffer;
  /** PreviousTagSize0 as found (0 in valid files); -1 when the file ended before it. */
  previousTagSize0: number;
}

export interface FlvTag {
  /** 8 audio, 9 video, 18 script data (the low 5 bits of the type byte); the filter bit is reported separately. */
  tagType: number;
  filtered: boolean;
  /** The two reserved bits at the top of the type byte (0 in valid files); kept for byte-exact rewriting. */
  reserved: number;
  /** Timestamp | TimestampExtended << 24, in ms (32-bit unsigned). */
  timestampMs: number;
  /** Always 0 in valid files; kept for byte-exact rewriting. */
  streamId: number;
  /** The tag body, in a buffer of its own (owned by the receiver); with `views`, possibly a view of a pushed piece. */
  data: Buffer;
  /** Byte offset of the tag header in the file. */
  offset: number;
  /** The PreviousTagSize value that followed this tag, as found; -1 when the file ended right after the body. */
  previousTagSize: number;
}

export interface FlvReaderLimits {
  /** Largest tag body accepted, in bytes (DataSize is 24-bit, so the default never trips). */
  maxTagBytes: number;
  /** Largest DataOffset accepted: the padding before the body is held in memory. */
  maxDataOffset: number;
}

export const DEFAULT_FLV_READER_LIMITS: FlvReaderLimits = {
  maxTagBytes: 16 * 1024 * 1024,
  maxDataOffset: 64 * 1024,
};

export interface FlvReaderOptions {
  /** Called once, before any tag, when the header, its padding and PreviousTagSize0 are in. */
  onHeader?: (header: FlvHeader) => void;
  /** Called for every complete tag. */
  onTag: (tag: FlvTag) => void;
  limits?: Partial<FlvReaderLimits>;
  /**
   * Hand out a tag body that lies inside one pushed piece as a view of that piece instead
   * of a copy (default false). Only for callers that never change a piece once pushed and
   * keep tags briefly: a kept view pins its whole piece (`rinse fix` with 1 MiB reads).
   */
  views?: boolean;
}

const enum State {
  /** Waiting for the 9-byte header. */
  HEADER,
  /** Waiting for the padding up to DataOffset and PreviousTagSize0. */
  PREAMBLE,
  /** Waiting for an 11-byte tag header. */
  TAG_HEADER,
  /** Copying a tag body. */
  TAG_BODY,
  /** Waiting for the PreviousTagSize after a tag body. */
  TAG_TRAILER,
}

/** FLV 1 is the only version; FFmpeg's probe accepts 1..4, and so do we. */
const MAX_VERSION = 4;
const EMPTY = Buffer.alloc(0);

export class FlvReader {
  private readonly queue = new ByteQueue();
  private readonly limits: FlvReaderLimits;
  private readonly onHeader: ((header: FlvHeader) => void) | undefined;
  private readonly onTag: (tag: FlvTag) => void;
  private state = State.HEADER;
  private totalBytes = 0;
  private dead = false;
  private ended = false;

  // Header fields, between HEADER and PREAMBLE.
  private version = 0;
  private flagsByte = 0;
  private dataOffset = 0;

  // The tag being read (TAG_BODY, TAG_TRAILER).
  private typeByte = 0;
  private timestampMs = 0;
  private streamId = 0;
  private tagOffset = 0;
  private body: Buffer = EMPTY;
  /** DataSize of the tag being read; `body` is allocated (or taken as a view) on its first bytes. */
  private bodySize = 0;
  private received = 0;
  private readonly views: boolean;

  constructor(options: FlvReaderOptions) {
    this.limits = { ...DEFAULT_FLV_READER_LIMITS, ...options.limits };
    this.views = options.views === true;
    this.onHeader = options.onHeader;
    this.onTag = options.onTag;
  }

  /** Bytes pushed so far. */
  get bytesRead(): number {
    return this.totalBytes;
  }

  /**
   * Feed the next bytes of the file. Throws {@link MediaFormatError} (FLV_HEADER,
   * FLV_TAG_TOO_LARGE) on bad input, after which the reader is dead and ignores
   * further input. Errors thrown by the callbacks propagate and also kill it.
   */
  push(chunk: Buffer): void {
    if (this.dead) return;
    if (this.ended) throw new Error('FlvReader.push() after end()');
    this.totalBytes += chunk.length;
    this.queue.push(chunk);
    try {
      this.run();
    } catch (err) {
      this.kill();
      throw err;
    }
  }

  /**
   * The input is over. Throws FLV_TRUNCATED when it ended inside the header or a tag.
   * A file that ends right after a tag body (or after the header) without the
   * PreviousTagSize is accepted: that tag is emitted with `previousTagSize` -1.
   */
  end(): void {
    if (this.dead || this.ended) return;
    this.ended = true;
    const q = this.queue;
    try {
      switch (this.state) {
        case State.HEADER:
          this.checkSignature(Math.min(q.length, FLV_SIGNATURE.length));
          throw this.truncated(`file of ${this.totalBytes} bytes ends inside the ${FLV_HEADER_BYTES}-byte FLV header`);
        case State.PREAMBLE:
          if (q.length !== this.dataOffset - FLV_HEADER_BYTES) {
            throw this.truncated(
              `file ends before the end of the header (DataOffset ${this.dataOffset}) and PreviousTagSize0`,
            );
          }
          this.emitHeader(q.length === 0 ? EMPTY : Buffer.from(q.take(q.length)), PREVIOUS_TAG_SIZE_ABSENT);
          return;
        case State.TAG_HEADER:
          if (q.length !== 0) {
            throw this.truncated(`file ends ${q.length} bytes into a tag header at offset ${this.position}`);
          }
          return;
        case State.TAG_BODY:
          throw this.truncated(
            `file ends ${this.received} bytes into a ${this.bodySize}-byte tag body (tag at offset ${this.tagOffset})`,
          );
        case State.TAG_TRAILER:
          if (q.length !== 0) {
            throw this.truncated(
              `file ends ${q.length} bytes into the PreviousTagSize of the tag at offset ${this.tagOffset}`,
            );
          }
          this.emitTag(PREVIOUS_TAG_SIZE_ABSENT);
          return;
      }
    } catch (err) {
      this.kill();
      throw err;
    }
  }

  /** File offset of the next unread byte. */
  private get position(): number {
    return this.totalBytes - this.queue.length;
  }

  private kill(): void {
    this.dead = true;
    this.queue.clear();
    this.body = EMPTY;
  }

  private truncated(message: string): MediaFormatError {
    return new MediaFormatError(MediaFormatErrorCode.FLV_TRUNCATED, message);
  }

  private run(): void {
    const q = this.queue;
    for (;;) {
      switch (this.state) {
        case State.TAG_HEADER:
          if (q.length < FLV_TAG_HEADER_BYTES) return;
          this.readTagHeader();
          break;
        case State.TAG_BODY: {
          if (this.received === 0 && this.body.length !== this.bodySize) {
            // First bytes of the body: a view when allowed and the whole body is here.
            if (this.views && q.length >= this.bodySize) {
              this.body = q.take(this.bodySize);
              this.received = this.bodySize;
            } else {
              this.body = Buffer.allocUnsafe(this.bodySize);
            }
          }
          const count = Math.min(this.body.length - this.received, q.length);
          if (count > 0) {
            q.copyTo(this.body, this.received, count);
            this.received += count;
          }
          if (this.received < this.body.length) return;
          this.state = State.TAG_TRAILER;
          break;
        }
        case State.TAG_TRAILER: {
          if (q.length < FLV_PREVIOUS_TAG_SIZE_BYTES) return;
          const previousTagSize = q.uint32At(0);
          q.skip(FLV_PREVIOUS_TAG_SIZE_BYTES);
          this.emitTag(previousTagSize);
          break;
        }
        case State.HEADER:
          if (q.length < FLV_HEADER_BYTES) {
            this.checkSignature(Math.min(q.length, FLV_SIGNATURE.length));
            return;
          }
          this.readHeader();
          break;
        case State.PREAMBLE: {
          const padding = this.dataOffset - FLV_HEADER_BYTES;
          if (q.length < padding + FLV_PREVIOUS_TAG_SIZE_BYTES) return;
          const headerPadding = padding === 0 ? EMPTY : Buffer.from(q.take(padding));
          const previousTagSize0 = q.uint32At(0);
          q.skip(FLV_PREVIOUS_TAG_SIZE_BYTES);
          this.emitHeader(headerPadding, previousTagSize0);
          break;
        }
      }
    }
  }

  /** Rejects input whose first `n` bytes are not the start of 'FLV'. */
  private checkSignature(n: number): void {
    for (let i = 0; i < n; i++) {
      if (this.queue.byteAt(i) !== FLV_SIGNATURE[i]) {
        throw new MediaFormatError(MediaFormatErrorCode.FLV_HEADER, 'not an FLV file: the signature is not "FLV"');
      }
    }
  }

  private readHeader(): void {
    const q = this.queue;
    this.checkSignature(FLV_SIGNATURE.length);
    const version = q.byteAt(3);
    if (version < 1 || version > MAX_VERSION) {
      throw new MediaFormatError(MediaFormatErrorCode.FLV_HEADER, `unsupported FLV version ${version}`);
    }
    const dataOffset = q.uint32At(5);
    if (dataOffset < FLV_HEADER_BYTES || dataOffset > this.limits.maxDataOffset) {
      throw new MediaFormatError(
        MediaFormatErrorCode.FLV_HEADER,
        `FLV DataOffset ${dataOffset} outside ${FLV_HEADER_BYTES}..${this.limits.maxDataOffset}`,
      );
    }
    this.version = version;
    this.flagsByte = q.byteAt(4);
    this.dataOffset = dataOffset;
    q.skip(FLV_HEADER_BYTES);
    this.state = State.PREAMBLE;
  }

  private emitHeader(headerPadding: Buffer, previousTagSize0: number): void {
    this.state = State.TAG_HEADER;
    if (this.onHeader === undefined) return;
    this.onHeader({
      version: this.version,
      hasAudio: (this.flagsByte & FLV_FLAG_AUDIO) !== 0,
      hasVideo: (this.flagsByte & FLV_FLAG_VIDEO) !== 0,
      dataOffset: this.dataOffset,
      flagsByte: this.flagsByte,
      headerPadding,
      previousTagSize0,
    });
  }

  private readTagHeader(): void {
    const q = this.queue;
    const offset = this.position;
    // A view when the 11 bytes lie in one input piece (the usual case), else an 11-byte copy.
    const h = q.take(FLV_TAG_HEADER_BYTES);
    const size = ((h[1] as number) << 16) | ((h[2] as number) << 8) | (h[3] as number);
    if (size > this.limits.maxTagBytes) {
      throw new MediaFormatError(
        MediaFormatErrorCode.FLV_TAG_TOO_LARGE,
        `tag of ${size} bytes at offset ${offset}, over the limit of ${this.limits.maxTagBytes}`,
      );
    }
    this.typeByte = h[0] as number;
    // Timestamp (UI24) + TimestampExtended (UI8) as the upper 8 bits: unsigned 32-bit.
    this.timestampMs =
      (h[7] as number) * 0x1000000 + (((h[4] as number) << 16) | ((h[5] as number) << 8) | (h[6] as number));
    this.streamId = ((h[8] as number) << 16) | ((h[9] as number) << 8) | (h[10] as number);
    this.tagOffset = offset;
    this.bodySize = size;
    this.body = EMPTY;
    this.received = 0;
    this.state = State.TAG_BODY;
  }

  private emitTag(previousTagSize: number): void {
    const typeByte = this.typeByte;
    const tag: FlvTag = {
      tagType: typeByte & 0x1f,
      filtered: (typeByte & FLV_TAG_FILTER_BIT) !== 0,
      reserved: typeByte >> 6,
      timestampMs: this.timestampMs,
      streamId: this.streamId,
      data: this.body.length === 0 ? Buffer.alloc(0) : this.body,
      offset: this.tagOffset,
      previousTagSize,
    };
    this.body = EMPTY;
    this.state = State.TAG_HEADER;
    this.onTag(tag);
  }
}

/** Convenience for whole files: every tag of `file`. Throws like {@link FlvReader}. */
export function readFlv(file: Buffer, limits?: Partial<FlvReaderLimits>): { header: FlvHeader; tags: FlvTag[] } {
  let header: FlvHeader | null = null;
  const tags: FlvTag[] = [];
  const reader = new FlvReader({
    onHeader: (h) => {
      header = h;
    },
    onTag: (t) => {
      tags.push(t);
    },
    limits,
  });
  reader.push(file);
  reader.end();
  const found = header as FlvHeader | null;
  if (found === null) {
    // end() throws before this can happen; kept for the type checker.
    throw new MediaFormatError(MediaFormatErrorCode.FLV_TRUNCATED, 'file ends inside the FLV header');
  }
  return { header: found, tags };
}
