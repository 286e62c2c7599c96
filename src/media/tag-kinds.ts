/**
 * FLV tag types (FLV 10.1 §E.4.1 TagType; RTMP message types 8, 9 and 18 carry the same
 * bodies) and the tag every stage passes on: one definition for the whole project.
 */

/** §E.4.1 TagType 8: audio. */
export const TAG_AUDIO = 8;
/** §E.4.1 TagType 9: video. */
export const TAG_VIDEO = 9;
/** §E.4.1 TagType 18: script data (onMetaData). */
export const TAG_SCRIPT = 18;

export type TagKind = 'audio' | 'video' | 'data';

/** One FLV tag: a stage's input or output. */
export interface MediaTag {
  tagType: number;
  /** ms, 32-bit as sent (input) or from 0 (a repaired output). */
  timestampMs: number;
  /** The tag body; it belongs to the receiver and never changes (copy what you keep). */
  data: Buffer;
}

export function tagTypeOf(kind: TagKind): number {
  return kind === 'audio' ? TAG_AUDIO : kind === 'video' ? TAG_VIDEO : TAG_SCRIPT;
}

export function kindOf(tagType: number): TagKind {
  return tagType === TAG_AUDIO ? 'audio' : tagType === TAG_VIDEO ? 'video' : 'data';
}

/** One audio/video/data message of a live stream. Payloads are shared by every subscriber and never change. */
export interface MediaFrame {
  readonly kind: TagKind;
  /** Publisher timestamp in milliseconds, modulo 2^32, exactly as received. */
  readonly timestampMs: number;
  readonly payload: Buffer;
  readonly isKeyframe: boolean;
  readonly isSequenceHeader: boolean;
}
