/**
 * DTS-ordered interleaving of the repaired tracks, with a bounded reorder window.
 *
 * A tag goes out at once when it leads the other track's newest tag by no more than the
 * longer of the two frame intervals, which in-order input never exceeds: input that is
 * already in order is not delayed. A track that runs further ahead (the glasses encode audio
 * faster than video) is held back until the other catches up, or until it is `windowMs` of
 * stream time ahead; a tag that then arrives behind what was sent is stamped forward to keep
 * the output monotonic, and counted. At the start both tracks are awaited (within the window).
 */
import { RepairKind, type RepairRecord } from './repairs.js';
import { DEFAULT_AUDIO_FRAME_MS, DEFAULT_VIDEO_FRAME_MS } from './track-timeline.js';
import type { MediaTag } from '../media/tag-kinds.js';

type Track = 'audio' | 'video';

interface Held {
  ts: number;
  tag: MediaTag;
  held: boolean;
  /** A sequence header: it shares the timestamp of the frame after it. */
  header: boolean;
}

export class Interleaver {
  private readonly windowMs: number;
  private readonly out: (tag: MediaTag) => void;
  private readonly onRepair: (r: RepairRecord) => void;
  private readonly queues: Record<Track, Held[]> = { audio: [], video: [] };
  private readonly newest: Record<Track, number | null> = { audio: null, video: null };
  private lastEmittedMs = -Infinity;
  /** Each track's last output timestamp: a clamped tag still lands after its own track's last. */
  private readonly lastOfTrack: Record<Track, number> = { audio: -Infinity, video: -Infinity };
  /** Each track's frame interval, in ms: how far ahead of it the other may go out. */
  private readonly frameMs: Record<Track, number> = {
    audio: DEFAULT_AUDIO_FRAME_MS,
    video: DEFAULT_VIDEO_FRAME_MS,
  };

  constructor(windowMs: number, out: (tag: MediaTag) => void, onRepair: (r: RepairRecord) => void) {
    this.windowMs = windowMs;
    this.out = out;
    this.onRepair = onRepair;
  }

  /** Bytes held (for memory accounting). */
  get heldTags(): number {
    return this.queues.audio.length + this.queues.video.length;
  }

  /** Data tags (metadata) go out at once, at the current position. */
  pushData(tag: MediaTag): void {
    const ts = Math.max(0, this.lastEmittedMs === -Infinity ? 0 : this.lastEmittedMs);
    this.out({ ...tag, timestampMs: ts });
  }

  setFrameDuration(track: Track, ms: number): void {
    this.frameMs[track] = ms;
  }

  /** Queue a tag; `more` follows at once (a sequence header and its frame share a timestamp). */
  push(track: Track, ts: number, tag: MediaTag, more = false): void {
    this.queues[track].push({ ts, tag, held: false, header: more });
    this.newest[track] = ts;
    if (more) return;
    this.drain(false);
    for (const h of this.queues[track]) h.held = true;
  }

  flush(): void {
    this.drain(true);
  }

  private drain(all: boolean): void {
    for (;;) {
      const a = this.queues.audio[0];
      const v = this.queues.video[0];
      if (!a && !v) return;
      let track: Track;
      if (a && v) track = a.ts <= v.ts ? 'audio' : 'video';
      else track = a ? 'audio' : 'video';
      const head = (track === 'audio' ? a : v) as Held;
      const other: Track = track === 'audio' ? 'video' : 'audio';
      const otherNewest = this.newest[other];
      const ready =
        all ||
        (a !== undefined && v !== undefined) ||
        // In-order input never leads the other track by more than the longer frame
        // interval, so it goes out at once; a tag further ahead waits for the other track.
        (otherNewest !== null && head.ts <= otherNewest + this.maxLeadMs()) ||
        (this.newest[track] as number) - head.ts >= this.windowMs;
      if (!ready) return;
      this.queues[track].shift();
      this.release(track, head);
    }
  }

  /** The lead over the other track's newest tag that in-order input can show, in ms. */
  private maxLeadMs(): number {
    return Math.ceil(Math.max(this.frameMs.audio, this.frameMs.video));
  }

  private release(track: Track, h: Held): void {
    let ts = h.ts;
    if (ts < this.lastEmittedMs) {
      // A sequence header shares its frame's timestamp; a frame never shares its track's last.
      const floor = h.header ? this.lastEmittedMs : Math.max(this.lastEmittedMs, this.lastOfTrack[track] + 1);
      this.onRepair({ kind: RepairKind.REORDER_CLAMPED, track, atMs: h.tag.timestampMs, amount: floor - ts });
      ts = floor;
    } else if (h.held) {
      this.onRepair({ kind: RepairKind.REORDERED, track, atMs: h.tag.timestampMs, amount: 0 });
    }
    this.lastEmittedMs = ts;
    this.lastOfTrack[track] = ts;
    this.out(ts === h.tag.timestampMs ? h.tag : { ...h.tag, timestampMs: ts });
  }
}
