/**
 * The video rules: first-frame, key-flags, keyframe-interval, cadence and composition. The
 * keyframes judged are the flagged ones: the ingest cuts segments at the flags.
 */
import {
  CADENCE_NEIGHBOURS,
  CADENCE_P95_MS,
  ContractRule,
  MAX_KEYFRAME_INTERVAL_MS,
  MIN_KEYFRAME_INTERVAL_MS,
} from '../media/output-contract.js';
import { cause, FindingKind, type RuleBook } from './findings.js';
import { median, round, type InspectReport, type VideoFrame } from './report-types.js';

/** first-frame: the first video frame is flagged key and holds an IDR. */
function checkFirstFrame(book: RuleBook, frames: readonly VideoFrame[]): void {
  const f = frames[0];
  if (!f || f.idr === null || (f.flagKey && f.idr)) return;
  const what = !f.idr ? 'holds no IDR' : 'is not flagged key';
  book.breach(
    ContractRule.FIRST_FRAME,
    1,
    f.dts,
    `the first video frame ${what}`,
    cause(FindingKind.FIRST_FRAME_NOT_IDR, 'video', 1, f.dts, `first video frame ${what}`),
  );
}

/**
 * key-flags: a key flag only on a frame that holds an IDR. An unflagged IDR is allowed by the
 * rule but still counts in the measured flag mismatches when it was due (>= 2 s after the last flag).
 */
function checkKeyFlags(book: RuleBook, frames: readonly VideoFrame[]): number {
  let lying = 0;
  let firstLyingMs: number | null = null;
  let mismatches = 0;
  let lastFlagged: number | null = null;
  for (const f of frames) {
    if (f.idr !== null && f.flagKey && !f.idr) {
      lying++;
      firstLyingMs ??= f.dts;
    }
    const dueIdr =
      f.idr === true && !f.flagKey && (lastFlagged === null || f.dts - lastFlagged >= MIN_KEYFRAME_INTERVAL_MS);
    if ((f.idr !== null && f.flagKey && !f.idr) || dueIdr) mismatches++;
    if (f.flagKey) lastFlagged = f.dts;
  }
  book.breach(
    ContractRule.KEY_FLAGS,
    lying,
    firstLyingMs,
    `${lying} frames flagged key without an IDR`,
    cause(
      FindingKind.KEYFRAME_FLAG_MISMATCH,
      'video',
      mismatches,
      firstLyingMs,
      `${mismatches} frames whose keyframe flag disagrees with their NAL types`,
    ),
  );
  return mismatches;
}

/**
 * keyframe-interval: flagged keyframes MIN..MAX apart, the open last GOP at most MAX. An
 * interval that goes backwards belongs to the monotonic rule (a restart, a wrap), not here.
 */
function checkKeyframeInterval(book: RuleBook, frames: readonly VideoFrame[]): InspectReport['gop'] {
  const keyTimes = frames.filter((f) => f.flagKey).map((f) => f.dts);
  const gops: number[] = [];
  for (let i = 1; i < keyTimes.length; i++) gops.push((keyTimes[i] as number) - (keyTimes[i - 1] as number));
  const judged = gops.filter((g) => g > 0);
  const short = judged.filter((g) => g < MIN_KEYFRAME_INTERVAL_MS);
  const long = judged.filter((g) => g > MAX_KEYFRAME_INTERVAL_MS);
  const last = frames[frames.length - 1];
  const openFrom = keyTimes.length ? (keyTimes[keyTimes.length - 1] as number) : frames[0]?.dts;
  const openMs = last && openFrom !== undefined ? last.dts - openFrom : 0;
  const allIntra =
    frames.length > 1 &&
    frames.every((f) => f.idr ?? f.flagKey) &&
    (gops.length === 0 || (median(gops) as number) < MIN_KEYFRAME_INTERVAL_MS);
  const causes = [];
  if (allIntra)
    causes.push(
      cause(
        FindingKind.ALL_INTRA,
        'video',
        frames.length,
        frames[0]?.dts ?? null,
        `all ${frames.length} frames are IDR keyframes`,
      ),
    );
  else if (short.length)
    causes.push(
      cause(FindingKind.GOP_TOO_SHORT, 'video', short.length, null, `keyframes as close as ${Math.min(...short)} ms`),
    );
  const longest = Math.max(openMs, ...long);
  if (long.length || openMs > MAX_KEYFRAME_INTERVAL_MS)
    causes.push(
      cause(
        FindingKind.GOP_TOO_LONG,
        'video',
        long.length + (openMs > MAX_KEYFRAME_INTERVAL_MS ? 1 : 0),
        null,
        `keyframes up to ${longest / 1000} s apart`,
      ),
    );
  const count = short.length + long.length + (openMs > MAX_KEYFRAME_INTERVAL_MS ? 1 : 0);
  const firstBad = keyTimes.find(
    (_, i) =>
      i > 0 &&
      (gops[i - 1] as number) > 0 &&
      ((gops[i - 1] as number) < MIN_KEYFRAME_INTERVAL_MS || (gops[i - 1] as number) > MAX_KEYFRAME_INTERVAL_MS),
  );
  book.breach(
    ContractRule.KEYFRAME_INTERVAL,
    count,
    firstBad ?? openFrom ?? null,
    `${count} keyframe intervals outside ${MIN_KEYFRAME_INTERVAL_MS}-${MAX_KEYFRAME_INTERVAL_MS} ms`,
    ...causes,
  );
  const gopS = gops.map((g) => g / 1000);
  return {
    keyframes: keyTimes.length,
    minS: gopS.length ? Math.min(...gopS) : null,
    medianS: median(gopS),
    maxS: gopS.length ? Math.max(...gopS) : null,
    allIntra,
    flagMismatches: 0,
  };
}

/** Old measure kept for the report: the share of intervals off the global median by > max(4 ms, 20 %). */
function irregularShare(intervals: readonly number[], medianMs: number): number | null {
  if (intervals.length <= 10 || medianMs <= 0) return null;
  return round(intervals.filter((d) => Math.abs(d - medianMs) > Math.max(4, 0.2 * medianMs)).length / intervals.length);
}

/**
 * cadence: p95 of |interval - median of the CADENCE_NEIGHBOURS intervals around it| at most
 * CADENCE_P95_MS. Against the local median, a sustained rate change is not jitter.
 */
function checkCadence(
  book: RuleBook,
  frames: readonly VideoFrame[],
  intervals: readonly number[],
): InspectReport['cadence'] {
  const medianMs = median(intervals);
  const share = irregularShare(intervals, medianMs ?? 0);
  if (intervals.length < CADENCE_NEIGHBOURS)
    return { medianIntervalMs: medianMs, irregularShare: share, p95DeviationMs: null };
  const half = CADENCE_NEIGHBOURS >> 1;
  const deviations = intervals.map((d, i) => {
    const from = Math.max(0, Math.min(i - half, intervals.length - CADENCE_NEIGHBOURS));
    return Math.abs(d - (median(intervals.slice(from, from + CADENCE_NEIGHBOURS)) as number));
  });
  const sorted = [...deviations].sort((a, b) => a - b);
  const p95 = sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)] as number;
  if (p95 > CADENCE_P95_MS) {
    const off = deviations.filter((d) => d > CADENCE_P95_MS).length;
    const detail = `p95 of frame-interval jitter ${p95} ms (${off} intervals over ${CADENCE_P95_MS} ms off their local median)`;
    book.breach(
      ContractRule.CADENCE,
      off,
      frames[0]?.dts ?? null,
      detail,
      cause(FindingKind.IRREGULAR_CADENCE, 'video', off, null, detail),
    );
  }
  return { medianIntervalMs: medianMs, irregularShare: share, p95DeviationMs: p95 };
}

/** Frames in presentation order that come before a frame of lower POC (or share a PTS), per IDR period. */
function pocOrderBreaks(period: readonly VideoFrame[]): { count: number; firstAtMs: number | null } {
  const byPts = period.map((f, i) => ({ f, i })).sort((a, b) => a.f.dts + a.f.cts - (b.f.dts + b.f.cts) || a.i - b.i);
  let count = 0;
  let firstAtMs: number | null = null;
  for (let k = 1; k < byPts.length; k++) {
    const prev = byPts[k - 1]?.f as VideoFrame;
    const cur = byPts[k]?.f as VideoFrame;
    if ((cur.poc as number) <= (prev.poc as number) || cur.dts + cur.cts === prev.dts + prev.cts) {
      count++;
      firstAtMs = firstAtMs === null ? cur.dts : Math.min(firstAtMs, cur.dts);
    }
  }
  return { count, firstAtMs };
}

/** composition: no negative CTS; where B slices exist, presentation order = POC order within each IDR period. */
function checkComposition(book: RuleBook, frames: readonly VideoFrame[]): void {
  const negative = frames.filter((f) => f.cts < 0);
  book.breach(
    ContractRule.COMPOSITION,
    negative.length,
    negative[0]?.dts ?? null,
    `${negative.length} negative composition times`,
    cause(
      FindingKind.NEGATIVE_CTS,
      'video',
      negative.length,
      negative[0]?.dts ?? null,
      `${negative.length} frames with a negative composition time`,
    ),
  );
  if (!frames.some((f) => f.hasB)) return;
  let count = 0;
  let firstAtMs: number | null = null;
  let period: VideoFrame[] = [];
  const judge = (): void => {
    // A period with an unknown POC (POC type 1, an unreadable slice) cannot be judged.
    if (period.some((f) => f.hasB) && period.every((f) => f.poc !== null)) {
      const r = pocOrderBreaks(period);
      count += r.count;
      if (r.firstAtMs !== null) firstAtMs ??= r.firstAtMs;
    }
    period = [];
  };
  for (const f of frames) {
    if (f.idr) judge();
    period.push(f);
  }
  judge();
  const allZero = frames.every((f) => f.cts === 0);
  const c = allZero
    ? cause(
        FindingKind.BFRAMES_NO_CTS,
        'video',
        frames.filter((f) => f.hasB).length,
        firstAtMs,
        'B slices while every composition time is 0',
      )
    : cause(FindingKind.POC_ORDER, 'video', count, firstAtMs, `${count} frames presented out of picture order`);
  book.breach(
    ContractRule.COMPOSITION,
    count,
    firstAtMs,
    `${count} frames whose presentation order disagrees with their picture order count`,
    c,
  );
}

/** The video rules; returns the report's gop and cadence parts. */
export function checkVideo(
  book: RuleBook,
  frames: readonly VideoFrame[],
  intervals: readonly number[],
): { gop: InspectReport['gop']; cadence: InspectReport['cadence'] } {
  checkFirstFrame(book, frames);
  const mismatches = checkKeyFlags(book, frames);
  const gop = { ...checkKeyframeInterval(book, frames), flagMismatches: mismatches };
  const cadence = checkCadence(book, frames, intervals);
  checkComposition(book, frames);
  return { gop, cadence };
}
