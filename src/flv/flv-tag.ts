/**
 * FLV tag bodies: Adobe FLV 10.1 §E.4.2.1 AUDIODATA / AACAUDIODATA, §E.4.3.1 VIDEODATA /
 * AVCVIDEOPACKET; enhanced RTMP v1/v2 ExVideoTagHeader (IsExHeader bit, VideoPacketType,
 * FourCC, ModEx prefixes, Multitrack) and ExAudioTagHeader (SoundFormat 9). RTMP audio and
 * video message bodies are exactly these tag bodies (script data: flv-script-data.ts).
 *
 * Parsing reads the tag body header in full and returns the rest as a view into the
 * body (`data`); builders make header + data in one allocation. media-tag.ts keeps the
 * cheaper classification the live fan-out uses; this is the full model.
 */
import { AAC_TAG_BYTE } from '../media/output-contract.js';
import { MediaFormatError, MediaFormatErrorCode } from './errors.js';

/** §E.4.3.1 CodecID 7: AVC (H.264). */
export const VIDEO_CODEC_ID_AVC = 7;
/** Non-standard CodecID 12: HEVC with the AVC packet layout (FFmpeg, Chinese CDNs). */
export const VIDEO_CODEC_ID_HEVC_LEGACY = 12;
/** §E.4.2.1 SoundFormat 10: AAC. */
export const SOUND_FORMAT_AAC = 10;
/** Enhanced RTMP v2: SoundFormat 9 announces an ExAudioTagHeader. */
export const SOUND_FORMAT_EX_HEADER = 9;
/** §E.4.2.1 SoundRate 3: 44 kHz (what AAC always declares). */
export const SOUND_RATE_44K = 3;
/** VIDEODATA FrameType values. */
export const VideoFrameType = {
  KEY: 1,
  INTER: 2,
  DISPOSABLE_INTER: 3,
  GENERATED_KEY: 4,
  COMMAND: 5,
} as const;
/** Enhanced RTMP VideoPacketType values. */
export const VideoPacketType = {
  SEQUENCE_START: 0,
  CODED_FRAMES: 1,
  SEQUENCE_END: 2,
  CODED_FRAMES_X: 3,
  METADATA: 4,
  MPEG2TS_SEQUENCE_START: 5,
  MULTITRACK: 6,
  MOD_EX: 7,
} as const;
/** Enhanced RTMP v2 AudioPacketType values. */
export const AudioPacketType = {
  SEQUENCE_START: 0,
  CODED_FRAMES: 1,
  SEQUENCE_END: 2,
  MULTICHANNEL_CONFIG: 4,
  MULTITRACK: 5,
  MOD_EX: 7,
} as const;
/** Enhanced RTMP v2 AvMultitrackType 2: every track names its own FourCC. */
const MULTITRACK_MANY_CODECS = 2;
/** §E.4.3.1 AVCPacketType values. */
const AVC_SEQUENCE_HEADER = 0;
const AVC_NALU = 1;
const AVC_END_OF_SEQUENCE = 2;
/** SI24 range (composition time). */
const SI24_MIN = -0x800000;
const SI24_MAX = 0x7fffff;

/** FourCCs whose CodedFrames packets carry an SI24 composition time (enhanced RTMP v1/v2). */
const FOURCC_WITH_COMPOSITION_TIME = new Set(['avc1', 'hvc1', 'vvc1']);

const VIDEO_CODECS: Record<number, string> = {
  2: 'h263',
  3: 'screen',
  4: 'vp6',
  5: 'vp6a',
  6: 'screen2',
  7: 'avc',
  12: 'hevc-legacy',
};

const SOUND_FORMATS: Record<number, string> = {
  0: 'pcm',
  1: 'adpcm',
  2: 'mp3',
  3: 'pcm-le',
  4: 'nellymoser-16k',
  5: 'nellymoser-8k',
  6: 'nellymoser',
  7: 'g711a',
  8: 'g711u',
  10: 'aac',
  11: 'speex',
  14: 'mp3-8k',
  15: 'device-specific',
};

export type VideoPacketKind =
  | 'sequence-header'
  | 'coded-frames'
  | 'end-of-sequence'
  | 'metadata'
  | 'mpeg2ts-sequence-start'
  | 'multitrack'
  | 'command'
  | 'unknown';

export interface VideoTagBody {
  /** 1 key, 2 inter, 3 disposable, 4 generated key, 5 command. */
  frameType: number;
  enhanced: boolean;
  /**
   * 'avc' for legacy CodecID 7; the enhanced FourCC ('avc1', 'hvc1', 'av01', 'vp09', ...);
   * 'h263', 'vp6', ... for other legacy codec ids ('codec-N' when unknown); 'multitrack'
   * for a many-codec multitrack packet and 'unknown' for an enhanced command frame (no FourCC).
   */
  codec: string;
  /** Legacy CodecID; null when enhanced. */
  codecId: number | null;
  /** Enhanced FourCC; null for legacy bodies, command frames and many-codec multitrack. */
  fourCc: string | null;
  packetKind: VideoPacketKind;
  /**
   * The packet type field as found: AVCPacketType for legacy AVC/HEVC, VideoPacketType
   * (after any ModEx prefixes) for enhanced bodies (3 tells CodedFramesX apart), null otherwise.
   */
  packetType: number | null;
  /** ms, signed 24-bit; 0 when the packet has none (CodedFramesX, non-AVC codecs). */
  compositionTimeMs: number;
  /** The UI8 command of a command frame (0 start seek, 1 end seek), null otherwise or when absent. */
  videoCommand: number | null;
  /** Enhanced multitrack: AvMultitrackType and the tracks' VideoPacketType; `data` holds the tracks. */
  multitrack: { multitrackType: number; packetType: number } | null;
  /**
   * Bytes after the tag body header (the decoder configuration record for sequence
   * headers, the NAL units / OBUs / frames for coded frames): a view into the body.
   */
  data: Buffer;
  /** Length of the tag body header, i.e. the offset of `data` in the body. */
  headerBytes: number;
}

export interface AudioTagBody {
  soundFormat: number;
  /** 'aac', 'mp3', ... ('format-N' when unknown) or the FourCC for enhanced audio ('multitrack' for many codecs). */
  codec: string;
  /** §E.4.2.1 SoundRate (0 5.5 kHz, 1 11 kHz, 2 22 kHz, 3 44 kHz); 0 for enhanced audio (no such field). */
  soundRateCode: number;
  /** SoundSize 16-bit; false for enhanced audio. */
  soundSize16: boolean;
  /** SoundType stereo; false for enhanced audio. */
  stereo: boolean;
  enhanced: boolean;
  /** AACPacketType for legacy AAC (null for other formats or a value other than 0/1). */
  aacPacketType: 0 | 1 | null;
  /** Enhanced AudioPacketType (after any ModEx prefixes); null for legacy audio. */
  audioPacketType: number | null;
  /** Enhanced FourCC ('mp4a', 'Opus', 'fLaC', 'ac-3', 'ec-3', '.mp3'); null for legacy audio. */
  fourCc: string | null;
  /** Enhanced multitrack: AvMultitrackType and the tracks' AudioPacketType; `data` holds the tracks. */
  multitrack: { multitrackType: number; packetType: number } | null;
  /** AAC AudioSpecificConfig (legacy AACPacketType 0) or enhanced SequenceStart. */
  isSequenceHeader: boolean;
  /** After the 2-byte AAC header, the 1-byte legacy header or the enhanced header: a view into the body. */
  data: Buffer;
  headerBytes: number;
}

function tooShort(what: string, body: Buffer, need: number): MediaFormatError {
  return new MediaFormatError(
    MediaFormatErrorCode.FLV_TAG,
    `${what} of ${body.length} bytes is too short for its ${need}-byte header`,
  );
}

/**
 * Skips enhanced RTMP v2 ModEx prefixes (packet type 7): UI8 size-1 (UI16 size-1 when
 * the UI8 is 255), the data, then a byte with ModExType (high nibble) and the next
 * packet type (low nibble). Returns the final packet type and the offset after it.
 */
function skipModEx(
  body: Buffer,
  packetType: number,
  offset: number,
  what: string,
): { packetType: number; offset: number } {
  while (packetType === VideoPacketType.MOD_EX) {
    if (body.length < offset + 1) throw tooShort(what, body, offset + 1);
    let size = (body[offset] as number) + 1;
    offset += 1;
    if (size === 256) {
      if (body.length < offset + 2) throw tooShort(what, body, offset + 2);
      size = body.readUInt16BE(offset) + 1;
      offset += 2;
    }
    offset += size;
    if (body.length < offset + 1) throw tooShort(what, body, offset + 1);
    packetType = (body[offset] as number) & 0x0f;
    offset += 1;
  }
  return { packetType, offset };
}

function readFourCc(body: Buffer, offset: number, what: string): string {
  if (body.length < offset + 4) throw tooShort(what, body, offset + 4);
  return body.toString('latin1', offset, offset + 4);
}

/** Parse a video tag body (RTMP video message). Throws FLV_TAG when it is too short for its header. */
export function parseVideoTagBody(body: Buffer): VideoTagBody {
  const first = body[0];
  if (first === undefined) throw tooShort('video tag body', body, 1);
  if ((first & 0x80) === 0) return parseLegacyVideo(body, first);

  const frameType = (first >> 4) & 0x07;
  const what = 'enhanced video tag body';
  const { packetType, offset: afterType } = skipModEx(body, first & 0x0f, 1, what);
  let offset = afterType;
  const result: VideoTagBody = {
    frameType,
    enhanced: true,
    codec: 'unknown',
    codecId: null,
    fourCc: null,
    packetKind: 'unknown',
    packetType,
    compositionTimeMs: 0,
    videoCommand: null,
    multitrack: null,
    data: body,
    headerBytes: 0,
  };
  if (frameType === VideoFrameType.COMMAND && packetType !== VideoPacketType.METADATA) {
    // v2: a command frame carries a UI8 command and no FourCC or payload.
    result.packetKind = 'command';
    result.videoCommand = body[offset] ?? null;
    if (result.videoCommand !== null) offset += 1;
  } else if (packetType === VideoPacketType.MULTITRACK) {
    if (body.length < offset + 1) throw tooShort(what, body, offset + 1);
    const b = body[offset] as number;
    offset += 1;
    const multitrackType = b >> 4;
    result.multitrack = { multitrackType, packetType: b & 0x0f };
    result.packetKind = 'multitrack';
    result.codec = 'multitrack';
    if (multitrackType !== MULTITRACK_MANY_CODECS) {
      result.fourCc = readFourCc(body, offset, what);
      result.codec = result.fourCc;
      offset += 4;
    }
  } else {
    const fourCc = readFourCc(body, offset, what);
    offset += 4;
    result.fourCc = fourCc;
    result.codec = fourCc;
    switch (packetType) {
      case VideoPacketType.SEQUENCE_START:
        result.packetKind = 'sequence-header';
        break;
      case VideoPacketType.CODED_FRAMES:
        result.packetKind = 'coded-frames';
        if (FOURCC_WITH_COMPOSITION_TIME.has(fourCc)) {
          if (body.length < offset + 3) throw tooShort(what, body, offset + 3);
          result.compositionTimeMs = body.readIntBE(offset, 3);
          offset += 3;
        }
        break;
      case VideoPacketType.SEQUENCE_END:
        result.packetKind = 'end-of-sequence';
        break;
      case VideoPacketType.CODED_FRAMES_X:
        result.packetKind = 'coded-frames';
        break;
      case VideoPacketType.METADATA:
        result.packetKind = 'metadata';
        break;
      case VideoPacketType.MPEG2TS_SEQUENCE_START:
        result.packetKind = 'mpeg2ts-sequence-start';
        break;
      default:
        result.packetKind = 'unknown';
    }
  }
  result.data = body.subarray(offset);
  result.headerBytes = offset;
  return result;
}

function parseLegacyVideo(body: Buffer, first: number): VideoTagBody {
  const frameType = first >> 4;
  const codecId = first & 0x0f;
  const result: VideoTagBody = {
    frameType,
    enhanced: false,
    codec: VIDEO_CODECS[codecId] ?? `codec-${codecId}`,
    codecId,
    fourCc: null,
    packetKind: 'coded-frames',
    packetType: null,
    compositionTimeMs: 0,
    videoCommand: null,
    multitrack: null,
    data: body,
    headerBytes: 1,
  };
  if (frameType === VideoFrameType.COMMAND) {
    // A video info/command frame: a UI8 command instead of a picture.
    result.packetKind = 'command';
    result.videoCommand = body[1] ?? null;
    result.headerBytes = result.videoCommand === null ? 1 : 2;
  } else if (codecId === VIDEO_CODEC_ID_AVC || codecId === VIDEO_CODEC_ID_HEVC_LEGACY) {
    // §E.4.3.1 AVCVIDEOPACKET: AVCPacketType UI8, CompositionTime SI24.
    if (body.length < 5) throw tooShort('AVC video tag body', body, 5);
    const packetType = body[1] as number;
    result.packetType = packetType;
    result.packetKind =
      packetType === AVC_SEQUENCE_HEADER
        ? 'sequence-header'
        : packetType === AVC_NALU
          ? 'coded-frames'
          : packetType === AVC_END_OF_SEQUENCE
            ? 'end-of-sequence'
            : 'unknown';
    result.compositionTimeMs = body.readIntBE(2, 3);
    result.headerBytes = 5;
  }
  result.data = body.subarray(result.headerBytes);
  return result;
}

/** Parse an audio tag body (RTMP audio message). Throws FLV_TAG when it is too short for its header. */
export function parseAudioTagBody(body: Buffer): AudioTagBody {
  const first = body[0];
  if (first === undefined) throw tooShort('audio tag body', body, 1);
  const soundFormat = first >> 4;
  if (soundFormat === SOUND_FORMAT_EX_HEADER) {
    const what = 'enhanced audio tag body';
    const skipped = skipModEx(body, first & 0x0f, 1, what);
    const packetType = skipped.packetType;
    let offset = skipped.offset;
    let fourCc: string | null = null;
    let multitrack: AudioTagBody['multitrack'] = null;
    if (packetType === AudioPacketType.MULTITRACK) {
      if (body.length < offset + 1) throw tooShort(what, body, offset + 1);
      const b = body[offset] as number;
      offset += 1;
      multitrack = { multitrackType: b >> 4, packetType: b & 0x0f };
      if (multitrack.multitrackType !== MULTITRACK_MANY_CODECS) {
        fourCc = readFourCc(body, offset, what);
        offset += 4;
      }
    } else {
      fourCc = readFourCc(body, offset, what);
      offset += 4;
    }
    return {
      soundFormat,
      codec: fourCc ?? 'multitrack',
      soundRateCode: 0,
      soundSize16: false,
      stereo: false,
      enhanced: true,
      aacPacketType: null,
      audioPacketType: packetType,
      fourCc,
      multitrack,
      isSequenceHeader: packetType === AudioPacketType.SEQUENCE_START,
      data: body.subarray(offset),
      headerBytes: offset,
    };
  }
  let headerBytes = 1;
  let aacPacketType: 0 | 1 | null = null;
  let isSequenceHeader = false;
  if (soundFormat === SOUND_FORMAT_AAC) {
    // §E.4.2.2 AACAUDIODATA: AACPacketType UI8 (0 AudioSpecificConfig, 1 raw AAC frame).
    if (body.length < 2) throw tooShort('AAC audio tag body', body, 2);
    const packetType = body[1] as number;
    aacPacketType = packetType === 0 || packetType === 1 ? packetType : null;
    isSequenceHeader = packetType === 0;
    headerBytes = 2;
  }
  return {
    soundFormat,
    codec: SOUND_FORMATS[soundFormat] ?? `format-${soundFormat}`,
    soundRateCode: (first >> 2) & 0x03,
    soundSize16: (first & 0x02) !== 0,
    stereo: (first & 0x01) !== 0,
    enhanced: false,
    aacPacketType,
    audioPacketType: null,
    fourCc: null,
    multitrack: null,
    isSequenceHeader,
    data: body.subarray(headerBytes),
    headerBytes,
  };
}

/** A legacy AVC video tag body (§E.4.3.1): 5-byte header + data, one allocation. */
export function buildAvcVideoTagBody(opts: {
  frameType: number;
  packetType: 0 | 1 | 2;
  compositionTimeMs: number;
  data: Buffer;
}): Buffer {
  const { frameType, compositionTimeMs, data } = opts;
  if (!Number.isInteger(frameType) || frameType < 0 || frameType > 15) {
    throw new RangeError(`video FrameType ${frameType} outside 0..15`);
  }
  if (!Number.isInteger(compositionTimeMs) || compositionTimeMs < SI24_MIN || compositionTimeMs > SI24_MAX) {
    throw new RangeError(`composition time ${compositionTimeMs} ms outside the SI24 range`);
  }
  const out = Buffer.allocUnsafe(5 + data.length);
  out[0] = (frameType << 4) | VIDEO_CODEC_ID_AVC;
  out[1] = opts.packetType;
  out.writeIntBE(compositionTimeMs, 2, 3);
  data.copy(out, 5);
  return out;
}

/**
 * A legacy AAC audio tag body (§E.4.2.1/§E.4.2.2): 2-byte header + data, one allocation.
 * The first byte is always AAC_TAG_BYTE: the spec has AAC declare 44 kHz, 16-bit, stereo
 * whatever the stream is (the real values are in the AudioSpecificConfig).
 */
export function buildAacAudioTagBody(opts: { packetType: 0 | 1; data: Buffer }): Buffer {
  const out = Buffer.allocUnsafe(2 + opts.data.length);
  out[0] = AAC_TAG_BYTE;
  out[1] = opts.packetType;
  opts.data.copy(out, 2);
  return out;
}

/**
 * `body` with its first byte set to AAC_TAG_BYTE: the body itself when it already is (no
 * copy), else a copy (the input belongs to its sender and never changes).
 */
export function withAacTagByte(body: Buffer): Buffer {
  if (body[0] === AAC_TAG_BYTE) return body;
  const out = Buffer.from(body);
  out[0] = AAC_TAG_BYTE;
  return out;
}
