/**
 * The timeline behind `rinse inspect --html`: fed every tag (and every repair of the dry-run
 * fixer), it keeps the whole input on a stream-time axis, in s from the first audio or video
 * tag: per second, video and audio bytes (as kbps) and video frames (as fps); each flagged
 * keyframe and its interval; the A/V skew once per second; the repairs, as marks at the time
 * of the tag the fixer was fed when it made them.
 *
 * Memory is bounded for any length: per-second buckets and keyframes only (a 10-hour file is
 * 36,000 seconds), each list capped, and what a cap leaves out is counted. Pure: no fs, no
 * timers.
 */
import { parseVideoTagBody, VideoFrameType } from '../flv/flv-tag.js';
import type { RepairRecord } from '../fixer/repairs.js';
import { TAG_AUDIO, TAG_VIDEO } from '../media/tag-kinds.js';
import { signedDelta32 } from '../media/timestamps.js';
import { round, type AnalyzerTag, type InspectTimeline, type TimelineRepairMark } from './report-types.js';

/** Seconds of stream time kept (over 55 hours; a stream whose clock jumps about stops here). */
export const MAX_TIMELINE_SECONDS = 200_000;
/** Keyframes kept: an all-intra stream would otherwise keep one per frame. */
export const MAX_TIMELINE_KEYFRAMES = 50_000;
/** Repair marks kept (each already one kind within one second). */
export const MAX_TIMELINE_MARKS = 2_000;

/**
 * Stream time of `atMs` (ms as sent) in s from `originMs`. FLV timestamps are 32-bit: across a
 * wrap the time goes on, as modulo 2^32; a restart or a step back gives an earlier time.
 */
export function streamSeconds(originMs: number, atMs: number): number {
  return signedDelta32(atMs, originMs) / 1000;
}

interface Bucket {
  videoBytes: number;
  audioBytes: number;
  videoFrames: number;
}

/** A last second covered for less than this, in s, is left out of the per-second series. */
const PARTIAL_LAST_S = 0.9;

export class TimelineCollector {
  private originMs: number | null = null;
  private readonly buckets = new Map<number, Bucket>();
  private readonly keyframes: InspectTimeline['keyframes'] = [];
  /** Second -> sample: the first in each second wins, and insertion order is arrival order. */
  private readonly skew = new Map<number, { atS: number; skewMs: number }>();
  /** `kind@second` -> its mark. */
  private readonly marks = new Map<string, TimelineRepairMark>();
  private readonly dropped = { seconds: 0, keyframes: 0, skew: 0, repairs: 0 };
  private lastKeyS: number | null = null;
  /** The last audio or video tag's time. */
  private lastS: number | null = null;
  private lastAudioS: number | null = null;
  private lastVideoS: number | null = null;

  push(tag: AnalyzerTag): void {
    const video = tag.tagType === TAG_VIDEO;
    if (!video && tag.tagType !== TAG_AUDIO) return;
    this.originMs ??= tag.timestampMs;
    const atS = streamSeconds(this.originMs, tag.timestampMs);
    const second = Math.floor(atS);
    this.lastS = atS;
    const bucket = this.bucket(second);
    if (video) {
      this.lastVideoS = atS;
      if (bucket) bucket.videoBytes += tag.data.length;
      const frame = codedFrame(tag.data);
      if (frame !== null) {
        if (bucket) bucket.videoFrames++;
        if (frame.key) this.keyframe(atS);
      }
    } else {
      this.lastAudioS = atS;
      if (bucket) bucket.audioBytes += tag.data.length;
    }
    this.sampleSkew(second, atS);
  }

  /**
   * The fixer repaired something while fed the tag pushed last: the mark goes at that tag's
   * time. Not at `r.atMs`: some repairs (the interleaver's, the SPS rewrite) state it in output
   * time, after the fixer moved the stream to start at 0, which is off by the start offset.
   */
  repair(r: RepairRecord): void {
    const atS = this.lastS ?? 0;
    const second = Math.floor(atS);
    const key = `${r.kind}@${second}`;
    const mark = this.marks.get(key);
    const amount = Math.abs(r.amount);
    if (mark) {
      mark.count++;
      mark.maxAmount = Math.max(mark.maxAmount, amount);
      if (mark.track !== r.track) mark.track = 'both';
    } else if (this.marks.size < MAX_TIMELINE_MARKS) {
      this.marks.set(key, { atS: round(atS), kind: r.kind, track: r.track, count: 1, maxAmount: amount });
    } else {
      this.dropped.repairs++;
    }
  }

  finish(): InspectTimeline {
    const marks = [...this.marks.values()].sort((a, b) => a.atS - b.atS);
    return {
      originMs: this.originMs ?? 0,
      perSecond: this.perSecond(),
      keyframes: this.keyframes,
      skew: [...this.skew.values()],
      marks,
      dropped: { ...this.dropped },
    };
  }

  private bucket(second: number): Bucket | null {
    let b = this.buckets.get(second);
    if (b === undefined) {
      if (this.buckets.size >= MAX_TIMELINE_SECONDS) {
        this.dropped.seconds++;
        return null;
      }
      b = { videoBytes: 0, audioBytes: 0, videoFrames: 0 };
      this.buckets.set(second, b);
    }
    return b;
  }

  private keyframe(atS: number): void {
    if (this.keyframes.length >= MAX_TIMELINE_KEYFRAMES) {
      this.dropped.keyframes++;
      return;
    }
    const intervalS = this.lastKeyS === null ? null : round(atS - this.lastKeyS);
    this.keyframes.push({ atS: round(atS), intervalS });
    this.lastKeyS = atS;
  }

  private sampleSkew(second: number, atS: number): void {
    if (this.lastAudioS === null || this.lastVideoS === null || this.skew.has(second)) return;
    if (this.skew.size >= MAX_TIMELINE_SECONDS) {
      this.dropped.skew++;
      return;
    }
    this.skew.set(second, { atS: round(atS), skewMs: Math.round((this.lastAudioS - this.lastVideoS) * 1000) });
  }

  /** Ascending seconds; where seconds without tags lie between two, zeros at both edges of the gap. */
  private perSecond(): InspectTimeline['perSecond'] {
    const out: InspectTimeline['perSecond'] = { atS: [], videoKbps: [], audioKbps: [], fps: [] };
    const add = (s: number, b: Bucket): void => {
      out.atS.push(s);
      out.videoKbps.push(round((b.videoBytes * 8) / 1000, 1));
      out.audioKbps.push(round((b.audioBytes * 8) / 1000, 1));
      out.fps.push(b.videoFrames);
    };
    const empty: Bucket = { videoBytes: 0, audioBytes: 0, videoFrames: 0 };
    let previous: number | null = null;
    const seconds = [...this.buckets.keys()].sort((a, b) => a - b);
    // A last second the input ends early in would read as a drop in bitrate and frame rate.
    const last = seconds.at(-1);
    if (seconds.length > 1 && last !== undefined && this.lastS !== null && this.lastS - last < PARTIAL_LAST_S)
      seconds.pop();
    for (const s of seconds) {
      if (previous !== null && s - previous > 1) {
        add(previous + 1, empty);
        if (s - previous > 2) add(s - 1, empty);
      }
      add(s, this.buckets.get(s) as Bucket);
      previous = s;
    }
    return out;
  }
}

/** A coded video frame (not a sequence header or command), and whether its keyframe flag is set. */
function codedFrame(data: Buffer): { key: boolean } | null {
  try {
    const body = parseVideoTagBody(data);
    return body.packetKind === 'coded-frames' ? { key: body.frameType === VideoFrameType.KEY } : null;
  } catch {
    // A tag that does not parse is the analyzer's finding; here it is bytes, not a frame.
    return null;
  }
}
