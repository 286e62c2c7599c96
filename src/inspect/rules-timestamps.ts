/**
 * The timestamp rules: monotonic, steps, start and av-skew, each track on its own timeline
 * as sent. The pathologies behind a breach (restart, wrap, stall, ...) become its causes.
 */
import {
  ContractRule,
  MAX_AV_DRIFT_FRACTION,
  MAX_AV_SKEW_MS,
  MAX_DTS_STEP_MS,
  MAX_START_MS,
} from '../media/output-contract.js';
import { RESTART_NEAR_ZERO_MS } from '../fixer/track-timeline.js';
import { signedDelta32 } from '../media/timestamps.js';
import { cause, FindingKind, type Cause, type RuleBook } from './findings.js';
import { round, type Collected, type TrackTimestamps } from './report-types.js';

/** Drift needs this many regular audio intervals to be told from millisecond rounding. */
const DRIFT_MIN_INTERVALS = 20;

export interface Timeline {
  track: 'audio' | 'video';
  stats: TrackTimestamps;
  /** Forward steps of at most MAX_DTS_STEP_MS, in order (cadence, drift and duration use these). */
  intervals: number[];
  /** Forward steps over MAX_DTS_STEP_MS: [from ms, size ms]. */
  steps: Array<[number, number]>;
  /** Where each backward or repeated kind first happened. */
  first: Partial<Record<FindingKind, number>>;
}

/** One track's timestamps in arrival order, classified step by step. */
export function timeline(track: 'audio' | 'video', ts: readonly number[]): Timeline {
  const stats: TrackTimestamps = {
    count: ts.length,
    firstMs: ts[0] ?? null,
    lastMs: ts[ts.length - 1] ?? null,
    backwards: 0,
    repeats: 0,
    jumps: 0,
    restarts: 0,
    wraps: 0,
  };
  const t: Timeline = { track, stats, intervals: [], steps: [], first: {} };
  for (let i = 1; i < ts.length; i++) {
    const prev = ts[i - 1] as number;
    const cur = ts[i] as number;
    const d = cur - prev;
    // Backwards as numbers, a short step forward on the 32-bit clock: the clock wrapped past 2^32.
    const wrapped = d < 0 ? signedDelta32(cur, prev) : 0;
    if (wrapped > 0 && wrapped <= MAX_DTS_STEP_MS) {
      stats.wraps++;
      t.first[FindingKind.TS_WRAP] ??= prev;
      t.intervals.push(wrapped);
    } else if (d === 0) {
      stats.repeats++;
      t.first[FindingKind.TS_REPEAT] ??= cur;
    } else if (d < 0 && cur < RESTART_NEAR_ZERO_MS && -d > RESTART_NEAR_ZERO_MS) {
      stats.restarts++;
      t.first[FindingKind.TS_RESTART] ??= prev;
    } else if (d < 0) {
      stats.backwards++;
      t.first[FindingKind.TS_BACKWARDS] ??= cur;
    } else if (d > MAX_DTS_STEP_MS) {
      t.steps.push([prev, d]);
    } else {
      t.intervals.push(d);
    }
  }
  return t;
}

/** monotonic: each track's DTS strictly increasing (a wrap past 2^32 counts: FLV timestamps are 32-bit). */
function checkMonotonic(book: RuleBook, tracks: readonly Timeline[]): void {
  for (const { track, stats, first } of tracks) {
    const causes: Cause[] = [];
    const add = (kind: FindingKind, n: number, what: string): void => {
      if (n > 0) causes.push(cause(kind, track, n, first[kind] ?? null, `${track} ${what} ${n}x`));
    };
    add(FindingKind.TS_WRAP, stats.wraps, 'timestamps wrapped past 2^32 ms');
    add(FindingKind.TS_REPEAT, stats.repeats, 'timestamp repeated');
    add(FindingKind.TS_RESTART, stats.restarts, 'timestamps restarted near 0');
    add(FindingKind.TS_BACKWARDS, stats.backwards, 'timestamp went backwards');
    const count = stats.wraps + stats.repeats + stats.restarts + stats.backwards;
    const at = Math.min(...causes.map((c) => c.firstAtMs ?? Infinity));
    book.breach(
      ContractRule.MONOTONIC,
      count,
      Number.isFinite(at) ? at : null,
      `${track} DTS not strictly increasing ${count}x`,
      ...causes,
    );
  }
}

/** steps: no per-track forward step over MAX_DTS_STEP_MS; one in both tracks at once is a stall, in one a jump. */
function checkSteps(book: RuleBook, video: Timeline, audio: Timeline): void {
  const overlaps = (g: [number, number], others: Array<[number, number]>): boolean =>
    others.some(
      ([at, size]) => at < g[0] + g[1] && g[0] < at + size && Math.abs(size - g[1]) < Math.max(500, 0.5 * g[1]),
    );
  for (const [mine, other] of [
    [video, audio],
    [audio, video],
  ] as const) {
    for (const g of mine.steps) {
      const stall = overlaps(g, other.steps);
      if (!stall) mine.stats.jumps++;
      // A stall shows in both tracks: name it once, on video's step (audio's step is the same stall).
      const c = stall
        ? mine.track === 'video'
          ? [cause(FindingKind.STALL, 'both', 1, g[0], `both tracks silent for ${g[1]} ms`)]
          : []
        : [cause(FindingKind.TS_JUMP, mine.track, 1, g[0], `${mine.track} timestamps jumped ${g[1]} ms forward alone`)];
      book.breach(ContractRule.STEPS, 1, g[0], `${mine.track} DTS step of ${g[1]} ms at ${g[0]} ms`, ...c);
    }
  }
}

/** start: each track's first DTS at most MAX_START_MS. */
function checkStart(book: RuleBook, tracks: readonly Timeline[]): void {
  for (const { track, stats } of tracks) {
    const firstMs = stats.firstMs;
    if (firstMs === null || firstMs <= MAX_START_MS) continue;
    book.breach(
      ContractRule.START,
      1,
      firstMs,
      `${track} starts at ${firstMs} ms`,
      cause(FindingKind.TS_START_OFFSET, track, 1, firstMs, `first ${track} timestamp is ${firstMs} ms`),
    );
  }
}

export interface Drift {
  driftMs: number | null;
  driftPercent: number | null;
}

/**
 * Audio timestamps against the audio sample clock: the mean of the intervals near one AAC
 * frame against the frame's length. Steps back, repeats and the intervals that recover
 * from them are left out, so a stray stamp does not read as drift.
 */
function measureDrift(audio: Timeline, sampleRate: number | null, frameSamples: number): Drift {
  if (!sampleRate) return { driftMs: null, driftPercent: null };
  const frameMs = (frameSamples * 1000) / sampleRate;
  const near = audio.intervals.filter((d) => Math.abs(d - frameMs) <= frameMs / 2);
  if (near.length <= DRIFT_MIN_INTERVALS) return { driftMs: null, driftPercent: null };
  const stamped = near.reduce((a, b) => a + b, 0);
  const sampled = near.length * frameMs;
  return { driftMs: round(stamped - sampled, 1), driftPercent: round((100 * (stamped - sampled)) / sampled, 3) };
}

/**
 * av-skew: in arrival order the last audio and video DTS at most MAX_AV_SKEW_MS apart, and
 * audio's clock against the media clock off by at most MAX_AV_DRIFT_FRACTION.
 */
function checkAvSkew(book: RuleBook, c: Collected, audio: Timeline): Drift {
  const { skew } = c;
  if (skew.over > 0) {
    book.breach(
      ContractRule.AV_SKEW,
      skew.over,
      skew.firstAtMs,
      `audio and video up to ${skew.maxMs} ms apart in arrival order`,
      cause(
        FindingKind.AV_SKEW,
        'both',
        skew.over,
        skew.firstAtMs,
        `${skew.over} tags with audio and video over ${MAX_AV_SKEW_MS} ms apart (up to ${skew.maxMs} ms)`,
      ),
    );
  }
  const drift = measureDrift(audio, c.sampleRate, c.frameSamples);
  if (drift.driftPercent !== null && Math.abs(drift.driftPercent) / 100 > MAX_AV_DRIFT_FRACTION) {
    const detail = `audio timestamps run ${drift.driftPercent}% (${drift.driftMs} ms) off the sample clock`;
    book.breach(
      ContractRule.AV_SKEW,
      1,
      audio.stats.firstMs,
      detail,
      cause(FindingKind.AV_DRIFT, 'audio', 1, audio.stats.firstMs, detail),
    );
  }
  return drift;
}

/** The timestamp rules; returns both timelines and the measured drift. */
export function checkTimestamps(book: RuleBook, c: Collected): { video: Timeline; audio: Timeline; drift: Drift } {
  const video = timeline(
    'video',
    c.videoFrames.map((f) => f.dts),
  );
  const audio = timeline(
    'audio',
    c.audioFrames.map((f) => f.dts),
  );
  checkMonotonic(book, [video, audio]);
  checkSteps(book, video, audio);
  checkStart(book, [video, audio]);
  const drift = checkAvSkew(book, c, audio);
  return { video, audio, drift };
}
