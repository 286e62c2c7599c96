/**
 * The upstream's outage buffer: every tag from a keyframe the receiver is known to have got
 * up to now, so that a new upstream session can be sent what the last one may have lost.
 *
 * - While a session is live, each written tag is marked with the connection's byte count
 *   before it; the head is trimmed to the latest keyframe that lies safely before what the
 *   receiver acknowledged (`trimTo`), so the buffer holds one or two GOPs.
 * - When the session is lost, the buffer is cut at that keyframe (`endSession`) and keeps
 *   everything that follows, through the outage; the next session gets it all, in order
 *   (`pending` from `cursor`), with the timestamps it had: the timeline continues.
 * - Bounded by the DTS span and the bytes it holds: past either, the head is dropped up to
 *   the next keyframe (or everything, then collecting waits for one), so it always starts
 *   where a decoder can. Frames dropped before any session took them are counted.
 *
 * Metadata and sequence headers are kept in order with the frames, and the ones in force at
 * the head are kept aside (`headers()`), so a replay that starts mid-stream decodes.
 * Tags are kept by reference (fixer output: one buffer per tag, never changed).
 */
import { parseVideoTagBody } from '../flv/flv-tag.js';
import { classifyAudio, classifyVideo } from '../flv/media-tag.js';
import { signedDelta32 } from '../media/timestamps.js';
import { TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO, type MediaTag } from '../media/tag-kinds.js';

export interface OutageBufferLimits {
  /** Largest DTS span held, first tag to last, in ms. */
  maxMs: number;
  /** Largest payload total held, in bytes. */
  maxBytes: number;
}

/** `offset` of a tag not yet written on the current session. */
export const NOT_SENT = -1;
/** `offset` of a tag the current session skipped (backpressure): sent again only after a reconnect. */
export const SKIPPED = -2;

export interface BufferedTag {
  readonly tag: MediaTag;
  /** A video keyframe: a replay may start here. */
  readonly keyframe: boolean;
  /** Metadata or a sequence header: never dropped by backpressure. */
  readonly header: boolean;
  /** Held for a replay (false: a header with nothing before it, or a frame while waiting for a keyframe). */
  readonly held: boolean;
  /** The session's bytes written before this tag went out, or NOT_SENT, or SKIPPED. */
  offset: number;
}

type HeaderSlot = 'metadata' | 'video' | 'audio';

/** Audio this close before a resume keyframe is kept with it, so a replay may start its audio there, in ms. */
const LEAD_AUDIO_MS = 50;

/**
 * Whether audio starting at `audioMs` puts the keyframe's presentation time about half a
 * frame off the frame grid of a receiver that rebases to the first packet: FFmpeg then rounds
 * pairs of frames to the same tick and reports every pair as a timestamp error.
 */
function halfFrameOff(keyframe: MediaTag, audioMs: number, frameMs: number): boolean {
  let ctsMs = 0;
  try {
    ctsMs = parseVideoTagBody(keyframe.data).compositionTimeMs;
  } catch {
    return false;
  }
  const frames = (signedDelta32(keyframe.timestampMs, audioMs) + ctsMs) / frameMs;
  const phase = frames - Math.floor(frames);
  return Math.abs(phase - 0.5) < 0.15;
}

/** Which header slot a tag fills, or null for a frame; and whether it is a video keyframe. */
function kindOfTag(tag: MediaTag): { slot: HeaderSlot | null; keyframe: boolean } {
  if (tag.tagType === TAG_SCRIPT) return { slot: 'metadata', keyframe: false };
  if (tag.tagType === TAG_VIDEO) {
    const v = classifyVideo(tag.data);
    return v.isSequenceHeader ? { slot: 'video', keyframe: false } : { slot: null, keyframe: v.isKeyframe };
  }
  if (tag.tagType === TAG_AUDIO && classifyAudio(tag.data).isSequenceHeader) return { slot: 'audio', keyframe: false };
  return { slot: null, keyframe: false };
}

export class OutageBuffer {
  private readonly limits: OutageBufferLimits;
  private readonly onDropped: (frames: number) => void;
  private list: BufferedTag[] = [];
  /** Sequence number of list[0]; every tag pushed gets the next one. */
  private firstSeq = 0;
  private payloadBytes = 0;
  /** The headers in force before list[0]. */
  private readonly base: Record<HeaderSlot, MediaTag | null> = { metadata: null, video: null, audio: null };
  /** Emptied by the limits with no keyframe to start from: frames wait for the next one. */
  private waitingForKeyframe = false;
  /** Sequence number of the next tag to write on the current session. */
  cursor = 0;

  /** `onDropped` is told of frames dropped before any session took them. */
  constructor(limits: OutageBufferLimits, onDropped: (frames: number) => void = () => {}) {
    this.limits = limits;
    this.onDropped = onDropped;
  }

  get frames(): number {
    return this.list.length;
  }

  get bytes(): number {
    return this.payloadBytes;
  }

  /** DTS span held, first tag to last, in ms. */
  get spanMs(): number {
    const first = this.list[0];
    const last = this.list.at(-1);
    return first && last ? Math.max(0, signedDelta32(last.tag.timestampMs, first.tag.timestampMs)) : 0;
  }

  /** Tags not yet written on the current session. */
  get pendingCount(): number {
    return this.firstSeq + this.list.length - this.cursor;
  }

  /**
   * Keep `tag` for a replay, unless it is a header with nothing before it to replay (it is
   * then simply the header in force) or a frame while waiting for a keyframe (`held` false).
   * A live session with nothing pending writes it either way.
   */
  push(tag: MediaTag): BufferedTag {
    const { slot, keyframe } = kindOfTag(tag);
    const header = slot !== null;
    if (!header && this.waitingForKeyframe && !keyframe)
      return { tag, keyframe, header, held: false, offset: NOT_SENT };
    if (keyframe) this.waitingForKeyframe = false;
    if (slot !== null && this.list.length === 0) {
      this.base[slot] = tag;
      return { tag, keyframe, header, held: false, offset: NOT_SENT };
    }
    const entry: BufferedTag = { tag, keyframe, header, held: true, offset: NOT_SENT };
    this.list.push(entry);
    this.payloadBytes += tag.data.length;
    this.enforceLimits();
    return entry;
  }

  /** The next tag the current session is to be sent, if any (then `cursor++`). */
  nextPending(): BufferedTag | undefined {
    return this.list[this.cursor - this.firstSeq];
  }

  /** Everything held counts as handled by the current session (written or skipped). */
  caughtUp(): void {
    this.cursor = this.firstSeq + this.list.length;
  }

  /** Metadata and sequence headers in force at the head, in the order a decoder needs them. */
  headers(): MediaTag[] {
    return [this.base.metadata, this.base.video, this.base.audio].filter((t): t is MediaTag => t !== null);
  }

  /** While live: drop what precedes the latest written keyframe at or before byte `safeOffset`. */
  trimTo(safeOffset: number): void {
    let keep = -1;
    for (let i = 0; i < this.list.length; i++) {
      const e = this.list[i]!;
      if (e.offset === NOT_SENT || e.offset > safeOffset) break;
      if (e.keyframe && e.offset >= 0) keep = i;
    }
    if (keep <= 0) return;
    const lead = this.list[keep - 1]!;
    const key = this.list[keep]!;
    const keepLead =
      lead.tag.tagType === TAG_AUDIO &&
      !lead.header &&
      signedDelta32(key.tag.timestampMs, lead.tag.timestampMs) <= LEAD_AUDIO_MS;
    if (keep - (keepLead ? 1 : 0) > 0) this.dropHead(keep - (keepLead ? 1 : 0), false);
  }

  /**
   * A replay is about to start. When it starts with the audio kept just ahead of its keyframe,
   * send that audio only if the audio after the keyframe would start half a frame off the
   * video's grid; otherwise skip it (it was sent before the outage).
   */
  startReplay(): void {
    const i = this.cursor - this.firstSeq;
    const lead = this.list[i];
    const key = this.list[i + 1];
    if (lead === undefined || key === undefined || lead.header || lead.tag.tagType !== TAG_AUDIO || !key.keyframe)
      return;
    const rest = this.list.slice(i + 2, i + 200);
    const audio = rest.find((e) => e.tag.tagType === TAG_AUDIO && !e.header);
    const video = rest.find((e) => e.tag.tagType === TAG_VIDEO && !e.header);
    const frameMs = video ? signedDelta32(video.tag.timestampMs, key.tag.timestampMs) : 0;
    if (audio === undefined || frameMs <= 0) return;
    if (!halfFrameOff(key.tag, audio.tag.timestampMs, frameMs)) {
      lead.offset = SKIPPED;
      this.cursor++;
    }
  }

  /** The session is lost: keep from the keyframe `trimTo(safeOffset)` picks; all of it is to be sent again. */
  endSession(safeOffset: number): void {
    this.trimTo(safeOffset);
    for (const e of this.list) e.offset = NOT_SENT;
    this.cursor = this.firstSeq;
  }

  private enforceLimits(): void {
    while (this.list.length > 0 && (this.payloadBytes > this.limits.maxBytes || this.spanMs > this.limits.maxMs)) {
      const next = this.list.findIndex((e, i) => i > 0 && e.keyframe);
      if (next < 0) {
        this.dropHead(this.list.length, true);
        this.waitingForKeyframe = true;
      } else {
        this.dropHead(next, true);
      }
    }
  }

  /** Drop the first `n` tags; headers among them become the base; counts unwritten frames when `count`. */
  private dropHead(n: number, count: boolean): void {
    let unsent = 0;
    for (let i = 0; i < n; i++) {
      const e = this.list[i]!;
      this.payloadBytes -= e.tag.data.length;
      const slot = e.header ? kindOfTag(e.tag).slot : null;
      if (slot !== null) this.base[slot] = e.tag;
      else if (this.firstSeq + i >= this.cursor) unsent++;
    }
    this.list = this.list.slice(n);
    this.firstSeq += n;
    if (this.cursor < this.firstSeq) this.cursor = this.firstSeq;
    if (count && unsent > 0) this.onDropped(unsent);
  }
}
