/**
 * The fixer: a pure pipeline over FLV tags that makes a dirty glasses stream acceptable to
 * Cloudflare while every coded picture stays byte for byte what the encoder produced.
 *
 *   bitstream repair -> timeline repair -> cadence -> GOP policy -> DTS-ordered interleave
 *
 * Bitstream: NAL framing normalised to 4-byte AVCC (AUD and filler dropped), SPS/PPS moved
 * out of frames into sequence headers sent before the IDR they apply to, keyframe flags from
 * NAL types, frames before the first IDR dropped, ADTS stripped with an AudioSpecificConfig
 * synthesized. Timeline: per track (track-timeline.ts). Cadence: video snapped to the frame
 * grid, audio from sample counts. GOP: IDRs closer than the target interval are demoted to
 * non-IDR I pictures (idr-demotion.ts; only their slice headers change) and lose their
 * keyframe flag; a GOP over the maximum is a "needs transcode" decision. B-frames sent with
 * composition time 0 get it back from the slice POC.
 *
 * Each track is a unit of its own: video-track.ts (tags read by video-ingest.ts, sequence
 * headers by sequence-headers.ts, CTS from POC by poc-composition.ts) and audio-track.ts.
 * This file holds what they share: the start gate, the interleaver, repairs and decision.
 *
 * Pure: no sockets, timers or logger. The offline `fix`, the live relay and the tests all
 * push tags in and take tags out.
 */
import { classifyAudio } from '../flv/media-tag.js';
import { MAX_KEYFRAME_INTERVAL_MS, MIN_KEYFRAME_INTERVAL_MS } from '../media/output-contract.js';
import { AudioTrack, type AudioTrackHost } from './audio-track.js';
import { Interleaver } from './interleaver.js';
import { RepairKind, summarise, type RepairRecord, type RepairSummary, type TranscodeDecision } from './repairs.js';
import { START_ALIGN_MS, StartGate } from './start-gate.js';
import { ClockShifts } from './track-timeline.js';
import { VideoTrack, type VideoTrackHost } from './video-track.js';
import { TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO, type MediaTag } from '../media/tag-kinds.js';

export interface FixerOptions {
  /**
   * Keep the keyframe flag only on IDRs at least this far apart (all-intra streams), in ms.
   * The contract's minimum: a 2 s GOP after millisecond rounding (1983 ms at 30 fps) passes.
   */
  targetKeyframeIntervalMs: number;
  /** A GOP longer than this needs new keyframes: transcode, in ms (Cloudflare: 10 s). */
  maxKeyframeIntervalMs: number;
  /** How long a track running ahead is held back for the other, in ms of stream time. */
  reorderWindowMs: number;
  /** Video frames held while no SPS/PPS is known yet (a late sequence header). */
  maxPendingFrames: number;
  /**
   * Rewrite IDRs that lose their keyframe flag as non-IDR I pictures (slice headers only),
   * so readers that judge keyframes by NAL type see the same GOP. Off: only the flag is cleared.
   */
  demoteIdrs: boolean;
  /**
   * The publisher may reconnect (the live relay): the first sequence header already carries
   * max_num_ref_frames 2 when the SPS declares fewer, so that a resume IDR demoted at the
   * seam is not taken for a keyframe by readers that call every I picture of a one-reference
   * stream one (FFmpeg's parser). Off for files: their SPS goes out as it came.
   */
  seamReady: boolean;
  /**
   * Follow what is sent so that gaps can be filled (fill()): the live relay. Off, fill()
   * refuses and nothing per frame is spent on it.
   */
  gapFiller: boolean;
}

export const DEFAULT_FIXER_OPTIONS: FixerOptions = {
  targetKeyframeIntervalMs: MIN_KEYFRAME_INTERVAL_MS,
  maxKeyframeIntervalMs: MAX_KEYFRAME_INTERVAL_MS,
  reorderWindowMs: 500,
  maxPendingFrames: 300,
  demoteIdrs: true,
  seamReady: false,
  gapFiller: false,
};

/** What a fill() call did. */
export interface FillProgress {
  /** filling: the gap is being filled; refused: it cannot be (reason says why). */
  state: 'filling' | 'refused';
  /** Why the gap gets no filler, or no video filler (null when everything is filled). */
  reason: string | null;
  videoFrames: number;
  audioFrames: number;
  /** IDRs sent again, so that no keyframe interval exceeds the limit. */
  idrsResent: number;
  /** The output clock the filler has reached, in ms. */
  reachedMs: number;
}

export interface FixerStats {
  tagsIn: number;
  tagsOut: number;
  videoFramesIn: number;
  videoFramesOut: number;
  audioFramesIn: number;
  audioFramesOut: number;
}

export class StreamFixer {
  readonly options: FixerOptions;
  readonly repairs: RepairSummary = {};
  readonly stats: FixerStats = {
    tagsIn: 0,
    tagsOut: 0,
    videoFramesIn: 0,
    videoFramesOut: 0,
    audioFramesIn: 0,
    audioFramesOut: 0,
  };
  private decisionValue: TranscodeDecision | null = null;
  private readonly out: (tag: MediaTag) => void;
  private readonly onRepair: ((r: RepairRecord) => void) | undefined;
  private readonly interleaver: Interleaver;
  private readonly gate: StartGate;
  private readonly shifts = new ClockShifts();
  private startOffsetSeen = false;
  private metadataSent = false;
  private readonly video: VideoTrack;
  private readonly audio: AudioTrack;
  /** A gap being filled: which tracks get filler. Null outside a gap. */
  private gap: { video: boolean; audio: boolean; reason: string | null } | null = null;

  constructor(out: (tag: MediaTag) => void, options: Partial<FixerOptions> = {}, onRepair?: (r: RepairRecord) => void) {
    this.options = { ...DEFAULT_FIXER_OPTIONS, ...options };
    this.out = out;
    this.onRepair = onRepair;
    this.interleaver = new Interleaver(
      this.options.reorderWindowMs,
      (tag) => this.emit(tag),
      (r) => this.repair(r),
    );
    this.gate = new StartGate(this.options.reorderWindowMs);
    this.video = new VideoTrack(this.videoHost(), this.shifts);
    this.audio = new AudioTrack(this.audioHost(), this.shifts);
  }

  private audioHost(): AudioTrackHost {
    return {
      interleaver: this.interleaver,
      gate: this.gate,
      maxPendingFrames: this.options.maxPendingFrames,
      repair: (r) => this.repair(r),
      decide: (reason, atMs, detail) => this.decide(reason, atMs, detail),
      startOut: (raw) => this.startOut('audio', raw),
      framesIn: () => this.stats.audioFramesIn++,
      framesOut: () => this.stats.audioFramesOut++,
    };
  }

  private videoHost(): VideoTrackHost {
    return {
      interleaver: this.interleaver,
      gate: this.gate,
      maxPendingFrames: this.options.maxPendingFrames,
      options: this.options,
      repair: (r) => this.repair(r),
      decide: (reason, atMs, detail) => this.decide(reason, atMs, detail),
      startOut: (raw) => this.startOut('video', raw),
      framesIn: () => this.stats.videoFramesIn++,
      framesOut: () => this.stats.videoFramesOut++,
    };
  }

  /** What the stream carries, as far as known: codecs, and from the SPS the picture. */
  get mediaInfo(): {
    video:
      | { codec: string; width: number; height: number; fps: number | null; profileIdc: number; levelIdc: number }
      | { codec: string }
      | null;
    audio: { codec: string; sampleRate: number; stereo: boolean } | null;
  } {
    const sps = this.video.sps;
    const codec = this.video.codec;
    const video =
      codec === null
        ? null
        : sps === null
          ? { codec }
          : {
              codec,
              width: sps.width,
              height: sps.height,
              fps: sps.vui?.fps ?? null,
              profileIdc: sps.profileIdc,
              levelIdc: sps.levelIdc,
            };
    const a = this.audio;
    const audio = a.codec === null ? null : { codec: a.codec, sampleRate: a.sampleRate, stereo: a.channels !== 1 };
    return { video, audio };
  }

  /**
   * The video frame interval, in ms: the SPS timing while the measured rate agrees with it
   * (or nothing is measured yet), else the measured one (an SPS can claim 15 fps while the
   * camera delivers 30), else 30 fps.
   */
  get videoFrameDurationMs(): number {
    return this.video.frameDurationMs;
  }

  /** Set when the stream needs what a remux cannot do; the fixer keeps working regardless. */
  get decision(): TranscodeDecision | null {
    return this.decisionValue;
  }

  push(tag: MediaTag): void {
    this.stats.tagsIn++;
    if (tag.tagType === TAG_VIDEO) {
      this.video.push(tag);
      // Real video is back at an IDR: the filler stops, the gate starts both tracks after it.
      if (this.gap !== null && !this.video.awaitingIdr) this.endFill();
    } else if (tag.tagType === TAG_AUDIO) {
      if (this.gap !== null) {
        // Audio resumes with video, at its IDR, so that both start from one point; without
        // video the first audio frame ends the gap. A sequence header passes: it says the
        // configuration the returning audio will have.
        if (this.gap.video && !classifyAudio(tag.data).isSequenceHeader) {
          this.repair({ kind: RepairKind.DROPPED_IN_GAP, track: 'audio', atMs: tag.timestampMs, amount: 1 });
          return;
        }
        if (!this.gap.video) this.endFill();
      }
      this.audio.push(tag);
    } else if (tag.tagType === TAG_SCRIPT) this.onScript(tag);
  }

  /** A gap is being filled (fill() was called and real media has not resumed). */
  get filling(): boolean {
    return this.gap !== null;
  }

  /** The later of the two tracks' last output timestamps, in ms (-Infinity before any). */
  get lastOutMs(): number {
    return Math.max(this.video.lastOutMs, this.audio.lastOutMs);
  }

  /**
   * Fill a gap in the input (the publisher left, or is silent) up to `untilOutMs` on the
   * output clock: skipped P pictures that repeat the last picture and silent AAC frames, at
   * the stream's cadence, the last IDR again when the keyframe limit is near. The first call
   * starts the gap: everything held goes out, and real video resumes at its next IDR (the
   * filler pictures are references), or, when the same publish goes on and each of its
   * pictures predicts only from the one before, at its next picture, renumbered after the
   * filler; audio resumes with it. Both are timed after the filler. A stream whose pictures
   * cannot be continued gets no filler at all (refused).
   */
  fill(untilOutMs: number): FillProgress {
    const progress: FillProgress = {
      state: 'filling',
      reason: null,
      videoFrames: 0,
      audioFrames: 0,
      idrsResent: 0,
      reachedMs: this.lastOutMs,
    };
    const gap = this.gap ?? this.startGap();
    if (typeof gap === 'string') return { ...progress, state: 'refused', reason: gap };
    progress.reason = gap.reason;
    for (;;) {
      const videoMs = gap.video ? (this.video.gap?.nextMs ?? Infinity) : Infinity;
      const audioMs = gap.audio ? this.audio.nextFillMs : Infinity;
      if (Math.min(videoMs, audioMs) > untilOutMs) break;
      if (videoMs <= audioMs) {
        const sent = this.video.gap?.frame() ?? null;
        if (sent === null) {
          gap.video = false;
          gap.reason = 'the last IDR cannot be sent again';
          progress.reason = gap.reason;
          if (!gap.audio) break;
          continue;
        }
        progress.videoFrames++;
        if (sent === 'idr') progress.idrsResent++;
      } else {
        this.audio.fillFrame();
        progress.audioFrames++;
      }
    }
    this.interleaver.flush();
    progress.reachedMs = this.lastOutMs;
    this.restartGate();
    return progress;
  }

  /** Stop filling (real media is back, or the filler's time is up); video still resumes at an IDR. */
  endFill(): void {
    if (this.gap === null) return;
    this.gap = null;
    this.video.gap?.end();
    this.audio.fillEnd();
  }

  /** Start a gap: a refusal reason, or which tracks are filled. */
  private startGap(): { video: boolean; audio: boolean; reason: string | null } | string {
    if (!this.options.gapFiller) return 'gap filler off';
    const hasVideo = this.video.lastOutMs !== -Infinity;
    const hasAudio = this.audio.lastOutMs !== -Infinity;
    if (!hasVideo && !hasAudio) return 'nothing has gone out yet';
    this.releaseSession();
    let reason: string | null = null;
    if (hasVideo) {
      const video = this.video.gap?.start() ?? { ok: false, reason: 'gap filler off', detail: '' };
      // A picture that cannot be continued: bridged without filler, as a reconnect always was.
      if (!video.ok) return `${video.reason}: ${video.detail}`;
    }
    let audio = false;
    if (hasAudio) {
      const started = this.audio.fillStart();
      audio = started.ok;
      if (!started.ok) reason = `no audio filler: ${started.reason}`;
    }
    this.gap = { video: hasVideo, audio, reason };
    return this.gap;
  }

  /**
   * A new publish on the same path (the publisher reconnected): the output goes on as one
   * stream. Both tracks start again from one output point just after the later of their
   * last outputs (each keeps its offset from the other, as at a first start); video resumes
   * at the next IDR (frames before it dropped), which is demoted like any other IDR when it
   * comes sooner than the minimum keyframe interval and the parameter sets did not change,
   * so the keyframe interval holds across the seam. Sequence headers go out again only when
   * they changed. The first onMetaData stays the only one.
   */
  newPublish(): void {
    if (this.gap === null) this.releaseSession();
    else this.video.gap?.sessionChanged();
    this.restartGate();
  }

  /** What the publish so far holds goes out; the next frames start a new session (video at an IDR). */
  private releaseSession(): void {
    this.video.releaseHeld();
    this.gate.release();
    this.interleaver.flush();
    this.video.newPublish();
    this.audio.newPublish();
    this.shifts.clear();
  }

  /**
   * The next session's tracks start from one point just after the later of their last
   * outputs; with B-frames, after the last picture shown (its presentation time), so that
   * presentation times keep increasing across the seam too.
   */
  private restartGate(): void {
    const next = (last: number, frameMs: number): number => (last === -Infinity ? 0 : last + frameMs);
    this.gate.restart(
      Math.max(
        next(this.video.lastPtsMs, this.video.frameDurationMs),
        next(this.audio.lastOutMs, this.audio.frameDurationMs),
      ),
    );
  }

  /** End of stream: release everything held. */
  flush(): void {
    this.video.releaseHeld();
    this.gate.release();
    this.interleaver.flush();
  }

  private emit(tag: MediaTag): void {
    this.stats.tagsOut++;
    this.out(tag);
  }

  private repair(r: RepairRecord): void {
    summarise(this.repairs, r);
    this.onRepair?.(r);
  }

  private decide(reason: TranscodeDecision['reason'], atMs: number, detail: string): void {
    this.decisionValue ??= { reason, atMs, detail };
  }

  private onScript(tag: MediaTag): void {
    // The first onMetaData goes out first; later ones (a new publish) are dropped, the
    // sequence headers say what changed.
    if (this.metadataSent) return;
    this.metadataSent = true;
    this.interleaver.pushData({ tagType: TAG_SCRIPT, timestampMs: 0, data: tag.data });
  }

  /** Output ms for a track's first frame of the session; the first of the stream notes a start offset. */
  private startOut(track: 'audio' | 'video', raw: number): number {
    if (!this.startOffsetSeen) {
      this.startOffsetSeen = true;
      const base = this.gate.baseRawMs ?? raw;
      if (base > START_ALIGN_MS) this.repair({ kind: RepairKind.TS_START_OFFSET, track, atMs: base, amount: base });
    }
    const other = track === 'audio' ? this.video.lastOutMs : this.audio.lastOutMs;
    return this.gate.startOut(track, raw, other === -Infinity ? 0 : other);
  }
}
