/**
 * The video track's side of a filled gap: filler pictures on the output clock at the
 * stream's cadence (the pictures themselves come from video-filler.ts), the last IDR again
 * before the keyframe limit, and how real video resumes: at its next IDR, or, when the same
 * encoder session goes on and each of its pictures predicts only from the one before, at
 * its next picture, renumbered after the filler.
 *
 * It shares the track's output position (VideoOutput): filler pictures are output pictures.
 */
import { buildAvcVideoTagBody } from '../flv/flv-tag.js';
import { joinAvcc, nalType, NalType } from '../flv/nal-units.js';
import { TAG_VIDEO } from '../media/tag-kinds.js';
import type { IdrDemoter } from './idr-demotion.js';
import type { Interleaver } from './interleaver.js';
import type { PocComposition } from './poc-composition.js';
import { VideoFiller, type VideoFillStart } from './video-filler.js';
import type { PendingVideo, ReceivedParameterSets } from './video-ingest.js';

/**
 * The gap filler re-sends the last IDR this long before the keyframe limit, in ms: the
 * returning publisher's IDR may land a few frames after the filler's last picture.
 */
const RESEND_IDR_MARGIN_MS = 250;

/** Where the video output stands: what the track sends and the gap filler continues. */
export interface VideoOutput {
  /** The last output DTS, in ms (-Infinity before the first). */
  lastDts: number;
  /** The latest presentation time sent (DTS + CTS), in ms: filler pictures are shown after it. */
  maxPtsMs: number;
  lastKeyOutMs: number | null;
  lastIdrOutMs: number | null;
  /** The last interval between two real IDRs sent, in ms. */
  lastGopMs: number | null;
  /** A composition time other than 0 went out: the stream has B-frames. */
  sawReordering: boolean;
}

export interface VideoGapHost {
  readonly out: VideoOutput;
  readonly options: {
    readonly maxKeyframeIntervalMs: number;
    readonly targetKeyframeIntervalMs: number;
    readonly demoteIdrs: boolean;
  };
  readonly interleaver: Interleaver;
  readonly demoter: IdrDemoter;
  readonly composition: PocComposition;
  readonly sets: ReceivedParameterSets;
  frameDurationMs(): number;
}

export class VideoGap {
  /** Follows every picture sent; the track feeds it. */
  readonly filler = new VideoFiller();
  private readonly host: VideoGapHost;
  private readonly out: VideoOutput;
  /** A filler run: its position on the output clock (fractional ms) and its pictures' CTS. */
  private run: { posMs: number; ctsMs: number } | null = null;
  /**
   * While a gap lasts, how the same encoder session may resume mid-GOP: the frame_num its
   * next picture must carry, and the filler references and POC written since (null: it
   * resumes at an IDR).
   */
  private midGop: { expectFrameNum: number; frames: number; pocDelta: number } | null = null;

  constructor(host: VideoGapHost) {
    this.host = host;
    this.out = host.out;
  }

  /** Begin a run of filler pictures after the last picture sent, or say why not. */
  start(): VideoFillStart {
    if (this.run !== null) return { ok: true };
    const out = this.out;
    if (out.lastDts === -Infinity) return { ok: false, reason: 'no-picture-yet', detail: 'no video has gone out' };
    const started = this.filler.start();
    if (!started.ok) return started;
    // Shown after everything sent: a B-frame stream's pictures keep their presentation delay.
    this.run = { posMs: out.lastDts, ctsMs: Math.max(0, Math.round(out.maxPtsMs - out.lastDts)) };
    this.midGop = this.midGopStart();
    return started;
  }

  /** The output DTS the next filler picture would get, in ms (Infinity outside a run). */
  get nextMs(): number {
    const run = this.run;
    return run === null
      ? Infinity
      : Math.max(Math.round(run.posMs + this.host.frameDurationMs()), this.out.lastDts + 1);
  }

  /**
   * Send the next filler picture: a skipped P, or the last IDR again when the keyframe limit
   * is near. Returns what went out, or null when the run cannot go on (it is then over).
   */
  frame(): 'skip' | 'idr' | null {
    const run = this.run;
    if (run === null) return null;
    const out = this.out;
    const { options, demoter } = this.host;
    const dts = this.nextMs;
    const keyDue =
      out.lastKeyOutMs !== null && dts - out.lastKeyOutMs >= options.maxKeyframeIntervalMs - RESEND_IDR_MARGIN_MS;
    const picture = keyDue ? this.filler.resendIdr() : this.filler.skip();
    if (picture === null) {
      this.end();
      return null;
    }
    run.posMs += this.host.frameDurationMs();
    out.lastDts = dts;
    out.maxPtsMs = dts + run.ctsMs;
    if (picture.idr) {
      out.lastKeyOutMs = out.lastIdrOutMs = dts;
      this.host.composition.idrAt(dts);
      this.midGop = null; // the decoder forgot the real references
    } else if (this.midGop !== null) {
      this.midGop.frames++;
      this.midGop.pocDelta += picture.pocStep;
    }
    if (options.demoteIdrs) demoter.written(picture.frameNum, picture.poc, keyDue);
    const data = buildAvcVideoTagBody({
      frameType: keyDue ? 1 : 2,
      packetType: 1,
      compositionTimeMs: run.ctsMs,
      data: joinAvcc(picture.nals),
    });
    this.host.interleaver.push('video', dts, { tagType: TAG_VIDEO, timestampMs: dts, data });
    if (keyDue && !this.filler.start().ok) this.end();
    return keyDue ? 'idr' : 'skip';
  }

  /** The run is over (real video is back, or the run was stopped). */
  end(): void {
    this.run = null;
  }

  /** A new publish during a gap: another encoder session, which resumes at an IDR. */
  sessionChanged(): void {
    this.midGop = null;
  }

  /**
   * `f`, the first real picture after a gap and not an IDR, continues the encoder session
   * the filler interrupted: resume it here, renumbered after the filler. Asked once per gap.
   */
  resumesMidGop(f: PendingVideo): boolean {
    const mid = this.midGop;
    if (mid === null) return false;
    this.midGop = null;
    const first = f.nals.find((n) => nalType(n) === NalType.SLICE);
    if (first === undefined) return false;
    let frameNum: number;
    let kind: string;
    try {
      const header = this.host.sets.parsed.sliceHeader(first);
      frameNum = header.frameNum;
      kind = header.sliceKind;
    } catch {
      return false;
    }
    // The GOP goes on for up to its length again: it must still end within the keyframe limit.
    const out = this.out;
    const { options } = this.host;
    const gopMs = out.lastGopMs ?? options.targetKeyframeIntervalMs;
    const sinceKeyMs = out.lastKeyOutMs === null ? Infinity : out.lastDts - out.lastKeyOutMs;
    if (frameNum !== mid.expectFrameNum || kind === 'B' || sinceKeyMs + gopMs > options.maxKeyframeIntervalMs)
      return false;
    return this.host.demoter.shift(mid.frames, mid.pocDelta);
  }

  /**
   * A stream may resume mid-GOP when every picture predicts only from the one before it (no
   * B-frames, one reference frame): its next picture's reference is then the last filler
   * picture, which repeats that one exactly.
   */
  private midGopStart(): { expectFrameNum: number; frames: number; pocDelta: number } | null {
    const sps = this.host.sets.current;
    if (!this.host.options.demoteIdrs || this.out.sawReordering || sps === null || sps.maxNumRefFrames > 1) return null;
    const expectFrameNum = this.host.demoter.nextSourceFrameNum(2 ** sps.log2MaxFrameNum);
    return expectFrameNum === null ? null : { expectFrameNum, frames: 0, pocDelta: 0 };
  }
}
