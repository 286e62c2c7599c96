/**
 * Timeline repair for one track (audio or video): turns the publisher's 32-bit
 * timestamps, in arrival order, into one continuous, strictly increasing timeline.
 *
 * Steps are read as signed 32-bit differences, so a 2^32 wrap is just a normal step.
 * Anything else that is not a plausible next frame is replaced by one frame interval:
 * backwards and repeated timestamps, restarts near 0 (publisher reconnect), and forward
 * jumps beyond the track's jump threshold. The thresholds derive from the track's own
 * frame duration, measured as the median of its recent regular steps.
 */
import { RepairKind, type RepairRecord } from './repairs.js';

/** A forward step over this many frame intervals is a jump, not a late frame. */
export const JUMP_FRAMES = 8;
/** ... but never under this (very high frame rates), in ms ... */
export const MIN_JUMP_MS = 200;
/** ... nor over this: Cloudflare must never see a step over 1 s. */
export const MAX_STEP_MS = 1000;
/** A backward step landing within this of 0, from further than this, is a restart, in ms. */
export const RESTART_NEAR_ZERO_MS = 1000;
/** A timestamp this close to the grid or the sample clock is already right (ms rounding), in ms. */
const ON_GRID_MS = 1;
/** Weight of each frame in the grid-phase running mean. */
const PHASE_WEIGHT = 0.05;
/** Regular steps remembered for the frame-duration median. */
const HISTORY = 15;

/** Signed difference a - b of two 32-bit timestamps (wrap-aware). */
export function signedDelta32(a: number, b: number): number {
  const d = (a - b) >>> 0;
  return d >= 0x80000000 ? d - 0x100000000 : d;
}

export class TrackTimeline {
  readonly track: 'audio' | 'video';
  private lastRaw: number | null = null;
  private lastOutMs = 0;
  /** The last input/output pair that was a regular step: a stray timestamp does not move it. */
  private anchorRaw = 0;
  private anchorOutMs = 0;
  private readonly steps = new StepWindow(HISTORY);
  private frameMs: number;
  private resumePending = false;

  /** `frameMsHint`: the expected frame duration until enough steps are measured. */
  constructor(track: 'audio' | 'video', frameMsHint: number) {
    this.track = track;
    this.frameMs = frameMsHint;
  }

  get started(): boolean {
    return this.lastRaw !== null;
  }

  /** Last output timestamp, in ms (fractional). */
  get lastOut(): number {
    return this.lastOutMs;
  }

  /** Current frame duration estimate, in ms. */
  get frameDurationMs(): number {
    return this.frameMs;
  }

  /** Set the frame duration from the bitstream (SPS timing, AAC sample rate). */
  setFrameDuration(ms: number): void {
    if (ms > 0 && Number.isFinite(ms)) this.frameMs = ms;
  }

  get jumpThresholdMs(): number {
    return Math.min(MAX_STEP_MS, Math.max(MIN_JUMP_MS, JUMP_FRAMES * this.frameMs));
  }

  /** Start the track at `outMs` for input timestamp `raw`. */
  start(raw: number, outMs: number): void {
    this.lastRaw = raw;
    this.lastOutMs = outMs;
    this.anchorRaw = raw;
    this.anchorOutMs = outMs;
  }

  /**
   * The input starts over (a new publish on the same path): the next timestamp, whatever it
   * is, lands one frame interval after the last output.
   */
  resume(): void {
    this.resumePending = this.lastRaw !== null;
  }

  /** Map the next input timestamp to the output timeline; repairs go to `onRepair`. */
  next(raw: number, onRepair: (r: RepairRecord) => void): number {
    if (this.lastRaw === null) throw new Error('TrackTimeline.next before start');
    if (this.resumePending) {
      this.resumePending = false;
      this.lastOutMs += this.frameMs;
      this.anchorRaw = raw;
      this.anchorOutMs = this.lastOutMs;
      this.lastRaw = raw;
      return this.lastOutMs;
    }
    // A regular step from the last good point (so after a stray backward or repeated stamp
    // the stream falls back onto its own clock, not shifted by the repair).
    const fromAnchor = signedDelta32(raw, this.anchorRaw);
    const candidate = this.anchorOutMs + fromAnchor;
    if (fromAnchor > 0 && candidate > this.lastOutMs && candidate - this.lastOutMs <= this.jumpThresholdMs) {
      const step = candidate - this.lastOutMs;
      if (raw !== this.anchorRaw && signedDelta32(raw, this.lastRaw) === fromAnchor) {
        this.steps.push(step);
        if (this.steps.length >= 5) this.frameMs = this.steps.median();
      }
      this.lastOutMs = candidate;
      this.anchorRaw = raw;
      this.anchorOutMs = candidate;
      this.lastRaw = raw;
      return candidate;
    }
    const d = signedDelta32(raw, this.lastRaw);
    let kind: RepairKind;
    if (d === 0) kind = RepairKind.TS_REPEAT;
    else if (d < 0) kind = raw < RESTART_NEAR_ZERO_MS && -d > RESTART_NEAR_ZERO_MS ? RepairKind.TS_RESTART : RepairKind.TS_BACKWARDS;
    else if (d > this.jumpThresholdMs) kind = RepairKind.TS_JUMP;
    else kind = RepairKind.TS_BACKWARDS; // a regular step from a stray stamp, but behind the output
    this.lastOutMs += this.frameMs;
    onRepair({ kind, track: this.track, atMs: raw, amount: Math.round(this.frameMs - d) });
    // A restart or a jump moves the whole clock: later stamps follow the new one.
    if (kind === RepairKind.TS_RESTART || kind === RepairKind.TS_JUMP) {
      this.anchorRaw = raw;
      this.anchorOutMs = this.lastOutMs;
    }
    this.lastRaw = raw;
    return this.lastOutMs;
  }
}

/**
 * The last `capacity` steps, kept both in arrival order (to drop the oldest) and sorted (for
 * the median): a push costs O(capacity) moves and no allocation, once per frame.
 */
class StepWindow {
  private readonly ring: number[] = [];
  private readonly sorted: number[] = [];
  private oldest = 0;
  private readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get length(): number {
    return this.sorted.length;
  }

  push(step: number): void {
    const s = this.sorted;
    if (this.ring.length < this.capacity) {
      this.ring.push(step);
    } else {
      const gone = this.ring[this.oldest] as number;
      this.ring[this.oldest] = step;
      this.oldest = (this.oldest + 1) % this.capacity;
      s.splice(s.indexOf(gone), 1);
    }
    let i = s.length;
    while (i > 0 && (s[i - 1] as number) > step) i--;
    s.splice(i, 0, step);
  }

  median(): number {
    const s = this.sorted;
    const mid = s.length >> 1;
    return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  }
}

/**
 * Video cadence: snap timestamps to the regular grid of the stream's frame rate when
 * they are near it (30 fps -> 33/34 ms steps). No frame moves by more than half a frame
 * interval: a frame further off (or whose slot the frame before took) stays where it is;
 * missing frames leave real gaps.
 */
export class VideoCadence {
  private frameMs = 0;
  private gridBaseMs = 0;
  private lastK: number | null = null;
  private lastSnappedMs = -Infinity;
  /** Running mean of how far frames land from the grid, in ms. */
  private phaseMs = 0;

  /** Set or change the frame interval (a new SPS); restarts the grid. */
  setFrameDuration(ms: number): void {
    if (!(ms > 0) || !Number.isFinite(ms) || Math.abs(ms - this.frameMs) < 1e-9) return;
    this.frameMs = ms;
    this.lastK = null;
  }

  get active(): boolean {
    return this.frameMs > 0;
  }

  /** Snapped timestamp (ms, fractional grid point) for a timeline timestamp. */
  snap(outMs: number): number {
    if (!this.active) return outMs;
    const f = this.frameMs;
    if (this.lastK === null) {
      this.gridBaseMs = Math.max(outMs, this.lastSnappedMs + 1);
      this.lastK = 0;
      this.lastSnappedMs = this.gridBaseMs;
      return this.gridBaseMs;
    }
    // Keep the grid in phase with the source: a first frame that came early or late must
    // not shift every later frame (and the keyframes with them).
    const residual = outMs - (this.gridBaseMs + Math.round((outMs - this.gridBaseMs) / f) * f);
    this.phaseMs = this.phaseMs * (1 - PHASE_WEIGHT) + residual * PHASE_WEIGHT;
    if (Math.abs(this.phaseMs) > f / 4) {
      this.gridBaseMs += this.phaseMs;
      this.phaseMs = 0;
    }
    let k = Math.round((outMs - this.gridBaseMs) / f);
    if (k <= this.lastK) k = this.lastK + 1;
    let snapped = this.gridBaseMs + k * f;
    if (Math.abs(snapped - outMs) > f / 2) {
      // Far off the grid (a real change of rhythm): restart the grid at this frame.
      this.gridBaseMs = Math.max(outMs, this.lastSnappedMs + 1);
      this.phaseMs = 0;
      k = 0;
      snapped = this.gridBaseMs;
    }
    this.lastK = k;
    // Within a millisecond of the grid is on the grid (FLV's ms rounding): keep the source's.
    const result = Math.abs(snapped - outMs) < ON_GRID_MS && outMs > this.lastSnappedMs ? outMs : snapped;
    this.lastSnappedMs = result;
    return result;
  }
}

/**
 * Audio timestamps from sample counts: exactly regular (1024 samples per AAC frame),
 * anchored to the track's repaired timeline and re-anchored when the two part by more
 * than the resync threshold (a real gap in the audio, or drift between the clocks).
 */
export class AudioClock {
  /** Sample clock and timeline may part by this much before the clock re-anchors, in ms. */
  static readonly RESYNC_MS = 250;
  private anchorMs: number | null = null;
  private samples = 0;
  private sampleRate = 0;

  setSampleRate(rate: number): void {
    if (rate > 0 && rate !== this.sampleRate) {
      this.sampleRate = rate;
      this.anchorMs = null;
    }
  }

  /** Timestamp (ms, fractional) for the next frame of `frameSamples` samples whose timeline stamp is `timelineMs`. */
  next(timelineMs: number, frameSamples: number): number {
    if (this.sampleRate === 0) return timelineMs;
    let predicted = this.anchorMs === null ? timelineMs : this.anchorMs + (this.samples * 1000) / this.sampleRate;
    if (this.anchorMs === null || Math.abs(predicted - timelineMs) > AudioClock.RESYNC_MS) {
      this.anchorMs = timelineMs;
      this.samples = 0;
      predicted = timelineMs;
    }
    this.samples += frameSamples;
    return Math.abs(predicted - timelineMs) < ON_GRID_MS ? timelineMs : predicted;
  }
}
