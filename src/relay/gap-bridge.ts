/**
 * The gap filler's clock: when a stream's publisher has left (it may reconnect within the
 * grace period) or is connected and silent, the fixer's filler (StreamFixer.fill) is run at
 * the stream's cadence on the wall clock, so the output's media clock keeps up with real time
 * and real media resumes where the wall clock says it should.
 *
 * A run starts when no media has arrived for one frame interval plus the margin; it ends
 * when real video is back at an IDR (the fixer says so), after the longest run allowed, or
 * with the session. Its output position is the last output timestamp plus the wall time
 * since the last media arrived.
 */
import type { Logger } from 'pino';
import type { StreamFixer } from '../fixer/stream-fixer.js';
import type { RelayMetrics } from '../metrics/relay-metrics.js';

export interface GapFillerOptions {
  /** Off: a gap is bridged by continuing the timeline one frame after the last output. */
  enabled: boolean;
  /** The longest run, in ms; null: the grace period. */
  maxMs: number | null;
  /** A run starts when media is this late past the next frame's due time, in ms. */
  marginMs: number;
}

export const DEFAULT_GAP_FILLER_OPTIONS: GapFillerOptions = { enabled: true, maxMs: null, marginMs: 500 };

/** Why a run started: the publisher left (and may come back), or it is connected and silent. */
export type FillReason = 'reconnect' | 'stall';

/** The filler's state for /v1/streams. */
export interface GapFillerDescription {
  enabled: boolean;
  state: 'idle' | 'filling' | 'unavailable';
  /** The running run's reason. */
  reason: FillReason | null;
  /** Why this stream gets no filler (or no audio filler), as last found. */
  unavailable: string | null;
  runs: number;
  videoFrames: number;
  audioFrames: number;
  idrsResent: number;
  /** Output time filled, in seconds. */
  seconds: number;
}

interface Run {
  reason: FillReason;
  startedAtMs: number;
  anchorOutMs: number;
  anchorWallMs: number;
  reachedMs: number;
  /** fill() was called: the fixer's gap is open until real media is back. */
  begun: boolean;
  timer: NodeJS.Timeout;
}

export class GapBridge {
  private readonly fixer: StreamFixer;
  private readonly options: GapFillerOptions;
  private readonly maxMs: number;
  private readonly log: () => Logger;
  private readonly metrics: RelayMetrics | undefined;
  /** Whether filler may run now (the stream is remuxed, the session not ending). */
  private readonly allowed: () => boolean;
  private lastMediaAtMs = Date.now();
  private run: Run | null = null;
  /** A gap (by its last media arrival) refused or filled to the longest run: not tried again until media comes. */
  private settledGapAtMs: number | null = null;
  private unavailable: string | null = null;
  private unavailableLogged = false;
  private readonly totals = { runs: 0, videoFrames: 0, audioFrames: 0, idrsResent: 0, filledMs: 0 };

  constructor(opts: {
    fixer: StreamFixer;
    options: GapFillerOptions;
    graceMs: number;
    log: () => Logger;
    metrics?: RelayMetrics | undefined;
    allowed: () => boolean;
  }) {
    this.fixer = opts.fixer;
    this.options = opts.options;
    this.maxMs = opts.options.maxMs ?? opts.graceMs;
    this.log = opts.log;
    this.metrics = opts.metrics;
    this.allowed = opts.allowed;
  }

  /** Real media arrived at `nowMs` (the session's own clock read for the frame). */
  mediaArrived(nowMs: number): void {
    this.lastMediaAtMs = nowMs;
  }

  /** The coarse periodic check: start a run when media is overdue. `publishing`: a publisher is attached. */
  check(nowMs: number, publishing: boolean): void {
    if (!this.options.enabled || this.run !== null || this.settledGapAtMs === this.lastMediaAtMs) return;
    const overdueMs = nowMs - this.lastMediaAtMs - this.fixer.videoFrameDurationMs;
    if (overdueMs < this.options.marginMs || this.fixer.lastOutMs === -Infinity || !this.allowed()) return;
    this.start(nowMs, publishing ? 'stall' : 'reconnect');
  }

  /** The session ends: a run stops. */
  stop(): void {
    if (this.run !== null) this.finish('session ended');
  }

  /** What describe() calls `state`, without building the rest. */
  get state(): GapFillerDescription['state'] {
    return this.run !== null ? 'filling' : this.unavailable !== null && this.totals.runs === 0 ? 'unavailable' : 'idle';
  }

  describe(): GapFillerDescription {
    const t = this.totals;
    return {
      enabled: this.options.enabled,
      state: this.state,
      reason: this.run?.reason ?? null,
      unavailable: this.unavailable,
      runs: t.runs,
      videoFrames: t.videoFrames,
      audioFrames: t.audioFrames,
      idrsResent: t.idrsResent,
      seconds: Math.round(t.filledMs) / 1000,
    };
  }

  private start(nowMs: number, reason: FillReason): void {
    const frameMs = Math.max(10, Math.round(this.fixer.videoFrameDurationMs));
    const run: Run = {
      reason,
      startedAtMs: nowMs,
      anchorOutMs: this.fixer.lastOutMs,
      anchorWallMs: this.lastMediaAtMs,
      reachedMs: this.fixer.lastOutMs,
      begun: false,
      // One frame interval apart while the run lasts; nothing runs between gaps.
      timer: setInterval(() => this.step(Date.now()), frameMs),
    };
    run.timer.unref();
    this.run = run;
    if (!this.step(nowMs)) return;
    this.totals.runs++;
    this.log().info({ reason, silentMs: nowMs - this.lastMediaAtMs, maxMs: this.maxMs }, 'gap filler started');
  }

  /** Fill up to the wall clock's position; false when the run ended (or never started). */
  private step(nowMs: number): boolean {
    const run = this.run;
    if (run === null) return false;
    if (run.begun && !this.fixer.filling) return this.finish('publisher back');
    if (nowMs - run.startedAtMs > this.maxMs) {
      this.fixer.endFill();
      this.settledGapAtMs = this.lastMediaAtMs;
      return this.finish('longest filler run reached');
    }
    const progress = this.fixer.fill(run.anchorOutMs + (nowMs - run.anchorWallMs));
    run.begun = true;
    if (progress.state === 'refused') {
      clearInterval(run.timer);
      this.run = null;
      this.settledGapAtMs = this.lastMediaAtMs;
      this.noteUnavailable(progress.reason ?? 'unknown');
      return false;
    }
    if (progress.reason !== null) this.noteUnavailable(progress.reason);
    const t = this.totals;
    t.videoFrames += progress.videoFrames;
    t.audioFrames += progress.audioFrames;
    t.idrsResent += progress.idrsResent;
    t.filledMs += Math.max(0, progress.reachedMs - run.reachedMs);
    this.metrics?.gapFillerFrames.inc({ reason: run.reason, track: 'video' }, progress.videoFrames);
    this.metrics?.gapFillerFrames.inc({ reason: run.reason, track: 'audio' }, progress.audioFrames);
    this.metrics?.gapFillerSeconds.inc({ reason: run.reason }, Math.max(0, progress.reachedMs - run.reachedMs) / 1000);
    if (progress.idrsResent > 0) this.metrics?.gapFillerIdrs.inc({ reason: run.reason }, progress.idrsResent);
    run.reachedMs = progress.reachedMs;
    return true;
  }

  private finish(why: string): false {
    const run = this.run as Run;
    clearInterval(run.timer);
    this.run = null;
    this.log().info(
      {
        reason: run.reason,
        why,
        filledMs: Math.round(run.reachedMs - run.anchorOutMs),
        wallMs: Date.now() - run.startedAtMs,
      },
      'gap filler stopped',
    );
    return false;
  }

  /** Said once per stream: a refusal does not change while the stream's parameter sets do not. */
  private noteUnavailable(reason: string): void {
    this.unavailable = reason;
    if (this.unavailableLogged) return;
    this.unavailableLogged = true;
    this.log().warn({ reason }, 'gap filler unavailable');
  }
}
