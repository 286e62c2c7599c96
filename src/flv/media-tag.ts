/**
 * The first bytes of FLV audio/video tag bodies (FLV 10.1 §E.4.2.1 AUDIODATA, §E.4.3.1
 * VIDEODATA; enhanced RTMP v1/v2 ExVideoTagHeader and ExAudioTagHeader): just enough to
 * tell keyframes and sequence headers apart, which the live fan-out and GOP cache need.
 * RTMP audio/video message bodies are exactly these tag bodies.
 */

/** FLV VIDEODATA CodecID for AVC (H.264). */
export const VIDEO_CODEC_AVC = 7;
/** FLV AUDIODATA SoundFormat for AAC. */
export const SOUND_FORMAT_AAC = 10;
/** Enhanced RTMP v2: SoundFormat 9 announces an ExAudioTagHeader with a FourCC. */
export const SOUND_FORMAT_EX_HEADER = 9;
/** FLV VIDEODATA FrameType 1: a keyframe (for AVC, a seekable frame). */
export const FRAME_TYPE_KEY = 1;
/** FLV VIDEODATA FrameType 5: video info/command frame, carries no picture. */
export const FRAME_TYPE_COMMAND = 5;
/** AVCPacketType / AACPacketType 0: the decoder configuration (sequence header). */
export const PACKET_TYPE_SEQUENCE_HEADER = 0;
/** Enhanced RTMP VideoPacketType SequenceStart. */
const EX_PACKET_SEQUENCE_START = 0;
/** Enhanced RTMP VideoPacketType Metadata (HDR info): not a picture. */
const EX_PACKET_METADATA = 4;
/** Enhanced RTMP VideoPacketType MPEG2TSSequenceStart (AV1). */
const EX_PACKET_MPEG2TS_SEQUENCE_START = 5;
/** Enhanced RTMP VideoPacketType ModEx: a modifier prefix before the real packet type. */
const EX_PACKET_MOD_EX = 7;

export interface VideoTagKind {
  /** 'avc' for legacy CodecID 7, the FourCC for enhanced RTMP ('hvc1', 'av01', 'vp09', ...), else `codec-N`. */
  readonly codec: string;
  /** Legacy or enhanced FrameType (1 key, 2 inter, 3 disposable, 4 generated key, 5 command). */
  readonly frameType: number;
  readonly isKeyframe: boolean;
  /** A decoder configuration record, not a picture. */
  readonly isSequenceHeader: boolean;
  /** Whether the header uses enhanced RTMP's ExVideoTagHeader. */
  readonly enhanced: boolean;
}

export interface AudioTagKind {
  /** 'aac', 'mp3', ... for legacy SoundFormat, the FourCC for enhanced RTMP audio. */
  readonly codec: string;
  readonly isSequenceHeader: boolean;
}

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

const VIDEO_CODECS: Record<number, string> = {
  2: 'h263',
  3: 'screen',
  4: 'vp6',
  5: 'vp6a',
  6: 'screen2',
  7: 'avc',
  12: 'hevc-legacy',
};

function fourCc(payload: Buffer, offset: number): string {
  if (payload.length < offset + 4) return 'unknown';
  return payload.toString('latin1', offset, offset + 4);
}

/** Classify a video message body. An empty body is reported as a non-key, non-header frame. */
export function classifyVideo(payload: Buffer): VideoTagKind {
  const first = payload[0];
  if (first === undefined) return { codec: 'none', frameType: 0, isKeyframe: false, isSequenceHeader: false, enhanced: false };
  if (first & 0x80) {
    const frameType = (first >> 4) & 0x07;
    let packetType = first & 0x0f;
    let offset = 1;
    // ModEx prefixes (enhanced RTMP v2) wrap the real packet type; skip them.
    while (packetType === EX_PACKET_MOD_EX && offset < payload.length) {
      let size = (payload[offset] ?? 0) + 1;
      offset += 1;
      if (size === 256) {
        size = payload.length >= offset + 2 ? payload.readUInt16BE(offset) + 1 : 0;
        offset += 2;
      }
      offset += size;
      const next = payload[offset];
      if (next === undefined) break;
      packetType = next & 0x0f;
      offset += 1;
    }
    const isSequenceHeader = packetType === EX_PACKET_SEQUENCE_START || packetType === EX_PACKET_MPEG2TS_SEQUENCE_START;
    const isPicture = !isSequenceHeader && packetType !== EX_PACKET_METADATA && frameType !== FRAME_TYPE_COMMAND;
    return {
      codec: fourCc(payload, offset),
      frameType,
      isKeyframe: isPicture && frameType === FRAME_TYPE_KEY,
      isSequenceHeader,
      enhanced: true,
    };
  }
  const frameType = first >> 4;
  const codecId = first & 0x0f;
  const isSequenceHeader = codecId === VIDEO_CODEC_AVC && payload[1] === PACKET_TYPE_SEQUENCE_HEADER;
  return {
    codec: VIDEO_CODECS[codecId] ?? `codec-${codecId}`,
    frameType,
    isKeyframe: frameType === FRAME_TYPE_KEY && !isSequenceHeader,
    isSequenceHeader,
    enhanced: false,
  };
}

/** Classify an audio message body. */
export function classifyAudio(payload: Buffer): AudioTagKind {
  const first = payload[0];
  if (first === undefined) return { codec: 'none', isSequenceHeader: false };
  const soundFormat = first >> 4;
  if (soundFormat === SOUND_FORMAT_EX_HEADER) {
    // Enhanced RTMP v2 ExAudioTagHeader: AudioPacketType in the low nibble, 0 = SequenceStart.
    return { codec: fourCc(payload, 1), isSequenceHeader: (first & 0x0f) === PACKET_TYPE_SEQUENCE_HEADER };
  }
  return {
    codec: SOUND_FORMATS[soundFormat] ?? `format-${soundFormat}`,
    isSequenceHeader: soundFormat === SOUND_FORMAT_AAC && payload[1] === PACKET_TYPE_SEQUENCE_HEADER,
  };
}
