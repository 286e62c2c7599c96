/**
 * The last few minutes of one relayed stream, for the live page (`GET /`): a point per
 * second (ingest and output bitrate, output frame rate, A/V skew, added latency), every
 * keyframe interval as it arrived, and marks for what happened (repairs, publisher
 * reconnects, gap-filler runs, mode changes). No timer of its own: the session's periodic
 * check calls {@link StreamHistory.sample}, and a second closes when one has passed.
 * Times are wall-clock epoch ms (the page's time axis), stream timestamps stay ms as sent.
 */
import { MAX_KEYFRAME_INTERVAL_MS, MIN_KEYFRAME_INTERVAL_MS } from '../media/output-contract.js';

/** How much history a stream keeps, in ms: "the last few minutes". */
export const HISTORY_KEEP_MS = 5 * 60_000;
/** One point per this many ms. */
export const HISTORY_PERIOD_MS = 1000;
/** At most this many marks are kept (repairs of one kind within a second share one mark). */
const MAX_MARKS = 600;

export interface HistoryPoint {
  /** End of the second, epoch ms. */
  t: number;
  inKbps: number;
  outKbps: number;
  /** Video frames sent in the second. */
  fps: number;
  /** Last audio minus last video output timestamp at the end of the second, ms (null: a track is missing). */
  skewMs: number | null;
  /** The largest added latency of a frame in the second, ms (null: none measured). */
  latencyMs: number | null;
}

export type HistoryMarkKind = 'repair' | 'reconnect' | 'gap-filler' | 'mode' | 'stall';

export interface HistoryMark {
  t: number;
  kind: HistoryMarkKind;
  detail: string;
  /** Same kind and detail within one period: counted on one mark. */
  count: number;
}

export interface HistoryKeyframe {
  /** Arrival, epoch ms. */
  t: number;
  /** Since the previous keyframe, stream time, s. */
  intervalS: number;
}

export interface HistorySnapshot {
  periodMs: number;
  keepMs: number;
  /** The contract's keyframe-interval bounds, s (the page draws them). */
  keyframeBoundsS: { min: number; max: number };
  points: HistoryPoint[];
  keyframes: HistoryKeyframe[];
  marks: HistoryMark[];
}

export class StreamHistory {
  private readonly points: HistoryPoint[] = [];
  private readonly keyframes: HistoryKeyframe[] = [];
  private readonly marks: HistoryMark[] = [];
  private periodEndMs: number;
  private bytesInNow = 0;
  private bytesOutNow = 0;
  private videoOutNow = 0;
  private latencyMaxNow: number | null = null;
  private lastAudioTs: number | null = null;
  private lastVideoTs: number | null = null;
  private lastMode: string | null = null;
  private lastFiller = 'idle';
  /** The newest mark of each kind and detail: a repair repeated per frame counts up, whatever comes between. */
  private readonly openMarks = new Map<HistoryMarkKind, Map<string, HistoryMark>>();

  constructor(nowMs = Date.now()) {
    this.periodEndMs = nowMs + HISTORY_PERIOD_MS;
  }

  /** A media frame of `bytes` arrived from the publisher. */
  bytesIn(bytes: number): void {
    this.bytesInNow += bytes;
  }

  /** A media frame left for the destination; `latencyMs` since its arrival, when known. */
  frameOut(video: boolean, bytes: number, timestampMs: number, latencyMs: number | null): void {
    this.bytesOutNow += bytes;
    if (video) {
      this.videoOutNow++;
      this.lastVideoTs = timestampMs;
    } else this.lastAudioTs = timestampMs;
    if (latencyMs !== null && (this.latencyMaxNow === null || latencyMs > this.latencyMaxNow))
      this.latencyMaxNow = latencyMs;
  }

  /** A keyframe arrived `intervalMs` of stream time after the previous one. */
  keyframe(intervalMs: number, nowMs = Date.now()): void {
    this.keyframes.push({ t: nowMs, intervalS: intervalMs / 1000 });
    this.prune(this.keyframes, nowMs);
  }

  mark(kind: HistoryMarkKind, detail: string, nowMs = Date.now()): void {
    // Keyed by kind, then detail: no string built per repair.
    let open = this.openMarks.get(kind);
    if (open === undefined) this.openMarks.set(kind, (open = new Map()));
    const last = open.get(detail);
    if (last !== undefined && nowMs - last.t < HISTORY_PERIOD_MS) {
      last.count++;
      return;
    }
    const mark: HistoryMark = { t: nowMs, kind, detail, count: 1 };
    open.set(detail, mark);
    this.marks.push(mark);
    if (this.marks.length > MAX_MARKS) this.marks.shift();
    this.prune(this.marks, nowMs);
  }

  /** The stream's mode and gap-filler state now: a change is marked. */
  state(mode: string, filler: string, nowMs = Date.now()): void {
    if (this.lastMode !== null && mode !== this.lastMode) this.mark('mode', `${this.lastMode} -> ${mode}`, nowMs);
    this.lastMode = mode;
    if (filler !== this.lastFiller) this.mark('gap-filler', filler, nowMs);
    this.lastFiller = filler;
  }

  /** Close every period that has ended by `nowMs` (a gap in calls gives zero points, not one long one). */
  sample(nowMs = Date.now()): void {
    // Calls stopped for longer than the history keeps: start afresh.
    if (nowMs - this.periodEndMs > HISTORY_KEEP_MS) this.periodEndMs = nowMs - HISTORY_KEEP_MS;
    while (nowMs >= this.periodEndMs) {
      const seconds = HISTORY_PERIOD_MS / 1000;
      this.points.push({
        t: this.periodEndMs,
        inKbps: Math.round((this.bytesInNow * 8) / seconds / 1000),
        outKbps: Math.round((this.bytesOutNow * 8) / seconds / 1000),
        fps: this.videoOutNow / seconds,
        skewMs: this.lastAudioTs === null || this.lastVideoTs === null ? null : this.lastAudioTs - this.lastVideoTs,
        latencyMs: this.latencyMaxNow === null ? null : Math.round(this.latencyMaxNow * 100) / 100,
      });
      this.bytesInNow = 0;
      this.bytesOutNow = 0;
      this.videoOutNow = 0;
      this.latencyMaxNow = null;
      this.periodEndMs += HISTORY_PERIOD_MS;
    }
    this.prune(this.points, nowMs);
    for (const open of this.openMarks.values())
      for (const [detail, mark] of open) if (nowMs - mark.t >= HISTORY_PERIOD_MS) open.delete(detail);
  }

  /** What the page draws; entries at or before `sinceMs` left out (the page asks for what is new). */
  snapshot(sinceMs = 0): HistorySnapshot {
    const after = <T extends { t: number }>(list: readonly T[]): T[] => list.filter((e) => e.t > sinceMs);
    return {
      periodMs: HISTORY_PERIOD_MS,
      keepMs: HISTORY_KEEP_MS,
      keyframeBoundsS: { min: MIN_KEYFRAME_INTERVAL_MS / 1000, max: MAX_KEYFRAME_INTERVAL_MS / 1000 },
      points: after(this.points),
      keyframes: after(this.keyframes),
      marks: after(this.marks),
    };
  }

  private prune(list: Array<{ t: number }>, nowMs: number): void {
    while (list.length > 0 && nowMs - (list[0] as { t: number }).t > HISTORY_KEEP_MS) list.shift();
  }
}
