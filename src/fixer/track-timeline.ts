/**
 * Timeline repair for one track (audio or video): turns the publisher's 32-bit
 * timestamps, in arrival order, into one continuous, strictly increasing timeline.
 *
 * Steps are read as signed 32-bit differences, so a 2^32 wrap is just a normal step.
 * Anything else that is not a plausible next frame is replaced by one frame interval:
 * backwards and repeated timestamps, restarts near 0 (publisher reconnect), and forward
 * jumps beyond the track's jump threshold. The thresholds derive from the track's own
 * frame duration, measured from its recent regular steps.
 */
import { AAC_FRAME_SAMPLES, MAX_DTS_STEP_MS } from '../media/output-contract.js';
import { signedDelta32 } from '../media/timestamps.js';
import { RepairKind, type RepairRecord } from './repairs.js';

/** A forward step over this many frame intervals is a jump, not a late frame. */
export const JUMP_FRAMES = 8;
/** ... but never under this (very high frame rates), in ms ... */
export const MIN_JUMP_MS = 200;
/** Video frame interval assumed until the stream tells, in ms (30 fps). */
export const DEFAULT_VIDEO_FRAME_MS = 1000 / 30;
/** Audio frame interval assumed until the stream tells: 1024 samples at 44.1 kHz, in ms. */
export const DEFAULT_AUDIO_FRAME_MS = (AAC_FRAME_SAMPLES * 1000) / 44100;
/** A backward step landing within this of 0, from further than this, is a restart, in ms. */
export const RESTART_NEAR_ZERO_MS = 1000;
/** A timestamp this close to the grid or the sample clock is already right (ms rounding), in ms. */
const ON_GRID_MS = 1;
/** Before the rate is measured, a step shorter than this fraction of the grid interval is not snapped. */
const SHORT_STEP_FRACTION = 0.6;
/** Weight of each frame in the grid-phase running mean. */
const PHASE_WEIGHT = 0.05;
/** Regular steps remembered for the frame-duration median. */
const HISTORY = 15;
/** Steps this close to the median (as a fraction of it) are one frame interval. */
const TYPICAL_FRACTION = 0.25;
/** The measured interval replaces the bitstream's frame duration from this many regular steps on. */
const MEASURED_STEPS = 5;
/** A frame-duration change under this fraction continues the cadence grid; a larger one restarts it. */
const GRID_CONTINUE_FRACTION = 0.1;

export class TrackTimeline {
  readonly track: 'audio' | 'video';
  private lastRaw: number | null = null;
  private lastOutMs = 0;
  /** The last input/output pair that was a regular step: a stray timestamp does not move it. */
  private anchorRaw = 0;
  private anchorOutMs = 0;
  private readonly steps = new StepWindow(HISTORY);
  private frameMs: number;
  /** The last stamp was repaired as a stray (backward or repeated): the next tells whether the clock moved. */
  private strayPending = false;
  private readonly shifts: ClockShifts | null;

  /** `frameMsHint`: the expected frame duration until enough steps are measured. */
  constructor(track: 'audio' | 'video', frameMsHint: number, shifts: ClockShifts | null = null) {
    this.track = track;
    this.frameMs = frameMsHint;
    this.shifts = shifts;
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

  /** The frame duration comes from the track's own steps (enough of them were regular). */
  get measured(): boolean {
    return this.steps.length >= MEASURED_STEPS;
  }

  /** Set the frame duration from the bitstream (SPS timing, AAC sample rate). */
  setFrameDuration(ms: number): void {
    if (ms > 0 && Number.isFinite(ms)) this.frameMs = ms;
  }

  get jumpThresholdMs(): number {
    // At most the contract's largest step: Cloudflare must never see a step over it.
    return Math.min(MAX_DTS_STEP_MS, Math.max(MIN_JUMP_MS, JUMP_FRAMES * this.frameMs));
  }

  /** Start (or, after a new publish, restart) the track at `outMs` for input timestamp `raw`. */
  start(raw: number, outMs: number): void {
    this.strayPending = false;
    this.moveTo(raw, outMs);
  }

  /** Map the next input timestamp to the output timeline; repairs go to `onRepair`. */
  next(raw: number, onRepair: (r: RepairRecord) => void): number {
    if (this.lastRaw === null) throw new Error('TrackTimeline.next before start');
    // A regular step from the last good point (so after a stray backward or repeated stamp
    // the stream falls back onto its own clock, not shifted by the repair).
    const fromAnchor = signedDelta32(raw, this.anchorRaw);
    const candidate = this.anchorOutMs + fromAnchor;
    if (fromAnchor > 0 && candidate > this.lastOutMs && candidate - this.lastOutMs <= this.jumpThresholdMs) {
      const step = candidate - this.lastOutMs;
      if (raw !== this.anchorRaw && signedDelta32(raw, this.lastRaw) === fromAnchor) {
        this.steps.push(step);
        if (this.steps.length >= MEASURED_STEPS) this.frameMs = this.steps.typical();
      }
      this.strayPending = false;
      return this.moveTo(raw, candidate);
    }
    const d = signedDelta32(raw, this.lastRaw);
    if (this.strayPending && d > 0 && d <= this.jumpThresholdMs) {
      // The stamp before was no stray: this one steps regularly from it, so the clock itself
      // stepped back. Follow it from here, at its own pace (no per-frame estimate, no drift).
      this.strayPending = false;
      const out = this.lastOutMs + d;
      this.shifts?.publish(this.track, out - raw, out);
      return this.moveTo(raw, out);
    }
    let kind: RepairKind;
    if (d === 0) kind = RepairKind.TS_REPEAT;
    else if (d < 0)
      kind = raw < RESTART_NEAR_ZERO_MS && -d > RESTART_NEAR_ZERO_MS ? RepairKind.TS_RESTART : RepairKind.TS_BACKWARDS;
    else if (d > this.jumpThresholdMs) kind = RepairKind.TS_JUMP;
    else kind = RepairKind.TS_BACKWARDS; // a regular step from a stray stamp, but behind the output
    // The other track saw the same discontinuity a moment ago: map this one alike (lip sync).
    const shared = this.shifts?.lookup(this.track, this.lastOutMs);
    const sharedOut = shared === undefined ? null : raw + shared;
    const out =
      sharedOut !== null && sharedOut > this.lastOutMs && sharedOut - this.lastOutMs <= this.jumpThresholdMs
        ? sharedOut
        : this.lastOutMs + this.frameMs;
    onRepair({ kind, track: this.track, atMs: raw, amount: Math.round(out - this.lastOutMs - d) });
    this.lastRaw = raw;
    this.lastOutMs = out;
    if (out === sharedOut || kind === RepairKind.TS_RESTART || kind === RepairKind.TS_JUMP) {
      // A restart or a jump moves the whole clock: later stamps follow the new one.
      this.anchorRaw = raw;
      this.anchorOutMs = out;
      this.strayPending = false;
      if (out !== sharedOut) this.shifts?.publish(this.track, out - raw, out);
    } else {
      this.strayPending = true;
    }
    return out;
  }

  private moveTo(raw: number, outMs: number): number {
    this.lastOutMs = outMs;
    this.anchorRaw = raw;
    this.anchorOutMs = outMs;
    this.lastRaw = raw;
    return outMs;
  }
}

/**
 * Discontinuities seen by one track, offered to the other: when both tracks' clocks restart,
 * jump or step together, the second track to notice maps its stamps exactly as the first
 * did, so a repair moves audio and video alike.
 */
export class ClockShifts {
  /** A shift is offered to the other track while its output is within this of where it was made, in ms. */
  static readonly WINDOW_MS = 2000;
  private readonly offered: Record<'audio' | 'video', { mapping: number; atOutMs: number } | null> = {
    audio: null,
    video: null,
  };

  /** `mapping` = output ms - input ms from `atOutMs` on, for `track`. */
  publish(track: 'audio' | 'video', mapping: number, atOutMs: number): void {
    this.offered[track] = { mapping, atOutMs };
  }

  /** The other track's mapping, when recent enough to be the same discontinuity; taken once. */
  lookup(track: 'audio' | 'video', lastOutMs: number): number | undefined {
    const other = track === 'audio' ? 'video' : 'audio';
    const offer = this.offered[other];
    if (offer === null || Math.abs(offer.atOutMs - lastOutMs) > ClockShifts.WINDOW_MS) return undefined;
    this.offered[other] = null;
    return offer.mapping;
  }

  clear(): void {
    this.offered.audio = null;
    this.offered.video = null;
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

  /**
   * The mean of the steps near the median (within TYPICAL_FRACTION of it): millisecond
   * rounding makes a 30 fps stream step 33, 33, 34, whose median is 33 but whose frame
   * interval is 33.3; a missing frame's double step stays out of the mean.
   */
  typical(): number {
    const m = this.median();
    let sum = 0;
    let n = 0;
    for (const step of this.sorted) {
      if (Math.abs(step - m) <= m * TYPICAL_FRACTION) {
        sum += step;
        n++;
      }
    }
    return n > 0 ? sum / n : m;
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
  /** The previous frame's timestamp as it came in, in ms. */
  private lastInMs = 0;

  /**
   * Set or change the frame interval: a small change (the measured median moving by a
   * millisecond) continues the grid from the last frame; a real change of rate restarts it.
   */
  setFrameDuration(ms: number): void {
    if (!(ms > 0) || !Number.isFinite(ms) || Math.abs(ms - this.frameMs) < 1e-9) return;
    const small = this.frameMs > 0 && Math.abs(ms - this.frameMs) <= this.frameMs * GRID_CONTINUE_FRACTION;
    this.frameMs = ms;
    if (small && this.lastK !== null) {
      this.gridBaseMs = this.lastSnappedMs;
      this.lastK = 0;
    } else {
      this.lastK = null;
    }
  }

  get active(): boolean {
    return this.frameMs > 0;
  }

  /** The next frame starts a new grid (a new publish). */
  reset(): void {
    this.lastK = null;
    this.phaseMs = 0;
  }

  /** Snapped timestamp (ms, fractional grid point) for a timeline timestamp. */
  /**
   * `measured`: the grid's interval is the stream's own (measured, or an SPS rate the
   * measurement confirmed); before that a frame that comes faster than the grid is kept.
   */
  snap(outMs: number, measured = true): number {
    if (!this.active) return outMs;
    const f = this.frameMs;
    if (this.lastK === null) {
      this.gridBaseMs = Math.max(outMs, this.lastSnappedMs + 1);
      this.lastK = 0;
      this.lastInMs = outMs;
      this.lastSnappedMs = this.gridBaseMs;
      return this.gridBaseMs;
    }
    const stepIn = outMs - this.lastInMs;
    this.lastInMs = outMs;
    if (!measured && stepIn < f * SHORT_STEP_FRACTION) {
      // Frames coming faster than an unconfirmed grid (an SPS that claims half the real
      // rate): snapping would stack them. Keep this one as it is.
      this.lastK = Math.max(this.lastK + 1, Math.round((outMs - this.gridBaseMs) / f));
      this.lastSnappedMs = Math.max(outMs, this.lastSnappedMs + 1);
      return this.lastSnappedMs;
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

  /** The next frame re-anchors the clock (a new publish). */
  reset(): void {
    this.anchorMs = null;
  }

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
