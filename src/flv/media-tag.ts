/**
 * The two questions the live fan-out and GOP cache ask of every audio/video message
 * (RTMP bodies are FLV tag bodies, FLV 10.1 §E.4.2–E.4.3 and enhanced RTMP): is it a
 * keyframe, is it a sequence header? Answered through the one tag model in flv-tag.ts;
 * a body too short to parse is reported as neither, never thrown.
 */
import { parseAudioTagBody, parseVideoTagBody, VideoFrameType } from './flv-tag.js';

export interface VideoTagKind {
  /** 'avc' for legacy CodecID 7, the FourCC for enhanced RTMP ('hvc1', 'av01', ...), 'none' when unparsable. */
  readonly codec: string;
  readonly frameType: number;
  readonly isKeyframe: boolean;
  /** A decoder configuration record, not a picture. */
  readonly isSequenceHeader: boolean;
  readonly enhanced: boolean;
}

export interface AudioTagKind {
  readonly codec: string;
  readonly isSequenceHeader: boolean;
}

const NONE_VIDEO: VideoTagKind = {
  codec: 'none',
  frameType: 0,
  isKeyframe: false,
  isSequenceHeader: false,
  enhanced: false,
};
const NONE_AUDIO: AudioTagKind = { codec: 'none', isSequenceHeader: false };

export function classifyVideo(payload: Buffer): VideoTagKind {
  try {
    const body = parseVideoTagBody(payload);
    const isSequenceHeader = body.packetKind === 'sequence-header' || body.packetKind === 'mpeg2ts-sequence-start';
    return {
      codec: body.codec,
      frameType: body.frameType,
      isKeyframe: body.packetKind === 'coded-frames' && body.frameType === VideoFrameType.KEY,
      isSequenceHeader,
      enhanced: body.enhanced,
    };
  } catch {
    return NONE_VIDEO;
  }
}

export function classifyAudio(payload: Buffer): AudioTagKind {
  try {
    const body = parseAudioTagBody(payload);
    return { codec: body.codec, isSequenceHeader: body.isSequenceHeader };
  } catch {
    return NONE_AUDIO;
  }
}
