/**
 * What a fresh consumer of a stream needs to start decoding: the metadata, the latest
 * sequence headers, and every frame since the latest video keyframe. The upstream replays it
 * on each (re)connect, the ffmpeg fallback feeds it to each (re)started transcoder.
 *
 * Frames are kept by reference (fixer output: one buffer per tag, never changed). A GOP that
 * outgrows the limits is dropped whole and collecting waits for the next keyframe, so the
 * cache always starts where a decoder can. `holdAll` keeps everything from the stream's
 * start, across keyframes, until `stopHolding()` (the upstream before its first session).
 */
import { classifyAudio, classifyVideo } from '../flv/media-tag.js';
import { TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO, type MediaTag } from '../media/tag-kinds.js';

export interface ResumeCacheLimits {
  maxFrames: number;
  maxBytes: number;
}

export class ResumeCache {
  metadata: MediaTag | null = null;
  videoHeader: MediaTag | null = null;
  audioHeader: MediaTag | null = null;
  private list: MediaTag[] = [];
  private bytes = 0;
  /** Collecting: from the start, or from the latest keyframe (false after an overflow). */
  private open = true;
  private holdAll: boolean;
  private readonly limits: ResumeCacheLimits;

  constructor(limits: ResumeCacheLimits, holdAll = false) {
    this.limits = limits;
    this.holdAll = holdAll;
  }

  /** Keep `tag`; returns whether it is metadata or a sequence header (never to be dropped). */
  remember(tag: MediaTag): boolean {
    if (tag.tagType === TAG_SCRIPT) {
      this.metadata = tag;
      return true;
    }
    if (tag.tagType === TAG_VIDEO) {
      const v = classifyVideo(tag.data);
      if (v.isSequenceHeader) {
        this.videoHeader = tag;
        return true;
      }
      if (v.isKeyframe && (!this.holdAll || !this.open)) {
        this.list = [tag];
        this.bytes = tag.data.length;
        this.open = true;
        return false;
      }
    } else if (tag.tagType === TAG_AUDIO && classifyAudio(tag.data).isSequenceHeader) {
      this.audioHeader = tag;
      return true;
    }
    if (this.open) {
      this.list.push(tag);
      this.bytes += tag.data.length;
      if (this.list.length > this.limits.maxFrames || this.bytes > this.limits.maxBytes) {
        this.list = [];
        this.bytes = 0;
        this.open = false;
      }
    }
    return false;
  }

  /** From now on keep only what follows the latest keyframe. */
  stopHolding(): void {
    this.holdAll = false;
  }

  /** The frames kept, oldest first (empty while waiting for a keyframe after an overflow). */
  get frames(): readonly MediaTag[] {
    return this.open ? this.list : [];
  }

  /** Metadata and sequence headers, in the order a consumer needs them. */
  headers(): MediaTag[] {
    return [this.metadata, this.videoHeader, this.audioHeader].filter((t): t is MediaTag => t !== null);
  }
}
