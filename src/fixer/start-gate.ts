/**
 * The start of a publish: each track's first frames wait until both tracks' first
 * timestamps are known (or one track has run a reorder window alone), so that one base maps
 * both. A track that starts later than the other keeps its late start (the glasses' muxer
 * drops the audio before the first keyframe, so audio starts about 140 ms after video),
 * whichever track's first tag arrived first.
 *
 * A new publish on the same path closes the gate again: the new session's tracks start from
 * one common output point, so lip sync holds across a publisher reconnect too.
 */
import { signedDelta32 } from '../media/timestamps.js';

export type Track = 'audio' | 'video';

/** A track's first timestamp further than this from the other's is not aligned to it, in ms. */
export const START_ALIGN_MS = 1000;

export class StartGate {
  private readonly windowMs: number;
  private held: Array<() => void> = [];
  private readonly first: Record<Track, number | null> = { audio: null, video: null };
  private readonly latest: Record<Track, number | null> = { audio: null, video: null };
  private readonly started: Record<Track, boolean> = { audio: false, video: false };
  private open = false;
  private baseRaw: number | null = null;
  private baseOutMs = 0;

  /** `windowMs`: how long one track runs alone before it starts without the other, in ms of its stream time. */
  constructor(windowMs: number) {
    this.windowMs = windowMs;
  }

  /** Open: frames go straight on (callers check this first, so no closure is made per frame). */
  get isOpen(): boolean {
    return this.open;
  }

  /** The input timestamp the current session's output starts from (null until the gate opens). */
  get baseRawMs(): number | null {
    return this.baseRaw;
  }

  /**
   * A frame of `track` stamped `raw`: false when it may go on now; true when `run` was
   * queued (it runs, in arrival order, when the gate opens).
   */
  hold(track: Track, raw: number, run: () => void): boolean {
    if (this.open) return false;
    this.first[track] ??= raw;
    this.latest[track] = raw;
    this.held.push(run);
    if (this.first.audio !== null && this.first.video !== null) this.release();
    else if (signedDelta32(raw, this.first[track] as number) >= this.windowMs) this.release();
    return true;
  }

  /** Open the gate now (end of stream, a new publish) and run what it held. */
  release(): void {
    if (this.open) return;
    this.open = true;
    this.baseRaw = this.chooseBase();
    const held = this.held;
    this.held = [];
    for (const run of held) run();
  }

  /**
   * Close the gate for a new publish whose output starts at `baseOutMs`. Call after
   * `release()` so nothing of the old session is still held.
   */
  restart(baseOutMs: number): void {
    this.release();
    this.open = false;
    this.baseRaw = null;
    this.baseOutMs = baseOutMs;
    this.first.audio = this.first.video = null;
    this.latest.audio = this.latest.video = null;
    this.started.audio = this.started.video = false;
  }

  /** The track has not started in this session: its next frame is its first. */
  needsStart(track: Track): boolean {
    return !this.started[track];
  }

  /**
   * Output ms for a track's first input timestamp: the base plus the track's offset from it;
   * a track far from the base (not one stream's clock) starts at `fallbackOutMs`.
   */
  startOut(track: Track, raw: number, fallbackOutMs: number): number {
    this.started[track] = true;
    this.baseRaw ??= raw;
    const offset = signedDelta32(raw, this.baseRaw);
    if (Math.abs(offset) > START_ALIGN_MS) return Math.max(this.baseOutMs, fallbackOutMs);
    return Math.max(this.baseOutMs, this.baseOutMs + offset);
  }

  /** The earlier of the two first timestamps when they are one clock's, else the first seen. */
  private chooseBase(): number | null {
    const a = this.first.audio;
    const v = this.first.video;
    if (a === null || v === null) return a ?? v;
    const d = signedDelta32(a, v);
    if (Math.abs(d) > START_ALIGN_MS) return v;
    return d < 0 ? a : v;
  }
}
