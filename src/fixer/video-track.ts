/**
 * The fixer's video track: H.264 only. Tags are read into pending frames (video-ingest.ts),
 * held while no SPS/PPS is known (bounded), dropped before the first IDR, and each frame
 * then goes through its steps: output DTS (timeline, then cadence grid), sequence header
 * (sequence-headers.ts), keyframe policy (IDRs thinned to the target interval, a GOP over
 * the maximum is a transcode decision), composition time (poc-composition.ts), IDR demotion
 * (idr-demotion.ts), and out to the interleaver, the original body when nothing changed.
 */
import { parseAvcConfig } from '../flv/avc-config.js';
import { buildAvcVideoTagBody, parseVideoTagBody } from '../flv/flv-tag.js';
import type { Sps } from '../flv/h264-sps.js';
import { joinAvcc, nalType, NalType } from '../flv/nal-units.js';
import type { AudioTrackHost } from './audio-track.js';
import { IdrDemoter } from './idr-demotion.js';
import type { Interleaver } from './interleaver.js';
import type { StartGate } from './start-gate.js';
import { PocComposition } from './poc-composition.js';
import { RepairKind, TranscodeReason, type RepairRecord } from './repairs.js';
import { SequenceHeaders } from './sequence-headers.js';
import { DEFAULT_VIDEO_FRAME_MS, TrackTimeline, VideoCadence, type ClockShifts } from './track-timeline.js';
import { ReceivedParameterSets, VideoIngest, type PendingVideo } from './video-ingest.js';
import { VideoGap, type VideoOutput } from './video-gap.js';
import { signedDelta32 } from '../media/timestamps.js';
import { TAG_VIDEO, type MediaTag } from '../media/tag-kinds.js';

/** A step within this fraction of a whole number of frame intervals is on that grid. */
const GRID_FIT_TOLERANCE = 0.4;

/** The fixer options the video track reads (see FixerOptions). */
export interface VideoTrackOptions {
  readonly targetKeyframeIntervalMs: number;
  readonly maxKeyframeIntervalMs: number;
  readonly demoteIdrs: boolean;
  readonly seamReady: boolean;
  readonly gapFiller: boolean;
}

/** What the video track needs from the fixer: what the audio track does, and the GOP options. */
export interface VideoTrackHost extends AudioTrackHost {
  readonly options: VideoTrackOptions;
}

export class VideoTrack {
  codec: string | null = null;
  private readonly timeline: TrackTimeline;
  private readonly host: VideoTrackHost;
  private readonly options: VideoTrackOptions;
  private readonly interleaver: Interleaver;
  private readonly gate: StartGate;
  /** host.repair, made once (not a closure per frame). */
  private readonly repair: (r: RepairRecord) => void;
  private readonly ingest: VideoIngest;
  private readonly sets = new ReceivedParameterSets();
  private readonly headers: SequenceHeaders;
  private readonly composition: PocComposition;
  private readonly demoter = new IdrDemoter(this.sets.parsed);
  private pending: PendingVideo[] = [];
  private seenIdr = false;
  private readonly cadence = new VideoCadence();
  /** The first IDR, held for one frame to see whether the stream is all-intra (demotion on). */
  private heldFirstIdr: PendingVideo | null = null;
  private firstIdrChecked = false;
  private readonly out: VideoOutput = {
    lastDts: -Infinity,
    maxPtsMs: -Infinity,
    lastKeyOutMs: null,
    lastIdrOutMs: null,
    lastGopMs: null,
    sawReordering: false,
  };
  /** The gap filler's video (null when off). */
  readonly gap: VideoGap | null;

  constructor(host: VideoTrackHost, shifts: ClockShifts) {
    this.host = host;
    this.options = host.options;
    this.interleaver = host.interleaver;
    this.gate = host.gate;
    this.repair = (r) => host.repair(r);
    this.ingest = new VideoIngest(this.repair);
    this.timeline = new TrackTimeline('video', DEFAULT_VIDEO_FRAME_MS, shifts);
    this.headers = new SequenceHeaders(this.sets, host.options, this.repair);
    this.composition = new PocComposition({
      sets: this.sets,
      frameDurationMs: () => this.frameDurationMs,
      repair: this.repair,
      decide: (reason, atMs, detail) => host.decide(reason, atMs, detail),
    });
    this.gap = host.options.gapFiller
      ? new VideoGap({
          out: this.out,
          options: host.options,
          interleaver: this.interleaver,
          demoter: this.demoter,
          composition: this.composition,
          sets: this.sets,
          frameDurationMs: () => this.frameDurationMs,
        })
      : null;
  }

  /** The last SPS that parsed. */
  get sps(): Sps | null {
    return this.sets.current;
  }

  /** The last output DTS, in ms (-Infinity before the first). */
  get lastOutMs(): number {
    return this.out.lastDts;
  }

  /** The latest presentation time sent (DTS + CTS), in ms (-Infinity before the first). */
  get lastPtsMs(): number {
    return this.out.maxPtsMs;
  }

  /** See StreamFixer.videoFrameDurationMs. */
  get frameDurationMs(): number {
    return this.cadenceFrameMs() ?? this.timeline.frameDurationMs;
  }

  /**
   * The interval the cadence grid is built on, in ms: the SPS's exact 1000/fps while the
   * stream's own measured interval fits its grid (onGridOf; an SPS can claim 15 fps while
   * the camera delivers 30), else the measured one; null (no snapping) while there is
   * neither. Before the measurement, frames that come faster than the grid are not snapped.
   */
  private cadenceFrameMs(): number | null {
    const claimed = this.spsFrameMs();
    if (!this.timeline.measured) return claimed;
    const measured = this.timeline.frameDurationMs;
    return claimed !== null && onGridOf(measured, claimed) ? claimed : measured;
  }

  /** Video resumes at its next IDR (a new publish, or after filler): frames before it are dropped. */
  get awaitingIdr(): boolean {
    return !this.seenIdr;
  }

  /** Release the first IDR if it is still held (a new publish, the end of the stream). */
  releaseHeld(): void {
    const held = this.heldFirstIdr;
    this.heldFirstIdr = null;
    if (held !== null) this.frame(held);
  }

  /** A new publish: frames held for late parameter sets belong to the old session; wait for an IDR. */
  newPublish(): void {
    this.pending = [];
    this.seenIdr = false;
  }

  push(tag: MediaTag): void {
    let body;
    try {
      body = parseVideoTagBody(tag.data);
    } catch {
      return;
    }
    this.codec ??= body.codec;
    if (body.codec !== 'avc' && body.codec !== 'avc1') {
      this.host.decide(TranscodeReason.UNSUPPORTED_VIDEO_CODEC, tag.timestampMs, `video codec ${body.codec}`);
      return;
    }
    if (body.packetKind === 'sequence-header') {
      this.sequenceHeaderIn(body.data);
      return;
    }
    if (body.packetKind !== 'coded-frames') return;
    this.host.framesIn();
    const ingest = this.ingest;
    const frame = ingest.frame(tag, body);
    // An empty list keeps the sets known (an in-band SPS without a PPS, or the reverse).
    if (ingest.sps.length || ingest.pps.length) this.setParameterSets(ingest.sps, ingest.pps);
    if (frame === null) return;
    this.pending.push(frame);
    if (!this.sets.complete) {
      // No parameter sets yet (a late sequence header): hold the frames, within bounds.
      while (this.pending.length > this.host.maxPendingFrames) {
        const dropped = this.pending.shift() as PendingVideo;
        this.repair({ kind: RepairKind.DROPPED_BEFORE_IDR, track: 'video', atMs: dropped.rawTs, amount: 1 });
      }
      return;
    }
    this.drainPending();
  }

  private sequenceHeaderIn(avcC: Buffer): void {
    try {
      const config = parseAvcConfig(avcC);
      this.ingest.nalLengthSize = config.nalLengthSize;
      this.headers.received(Buffer.from(avcC));
      this.setParameterSets(config.sps, config.pps);
    } catch {
      // A broken sequence header: in-band parameter sets may still save the stream.
    }
    this.drainPending();
  }

  private setParameterSets(sps: readonly Buffer[], pps: readonly Buffer[]): void {
    this.sets.set(sps, pps);
    // The SPS rate is a hint until the stream's own steps are measured (cadenceFrameMs).
    const spsMs = this.spsFrameMs();
    if (spsMs !== null && !this.timeline.measured) this.timeline.setFrameDuration(spsMs);
  }

  /** The frame interval the SPS timing states, in ms, when it is a plausible rate (1–120 fps). */
  private spsFrameMs(): number | null {
    const fps = this.sets.current?.vui?.fps;
    return fps && fps > 1 && fps <= 120 ? 1000 / fps : null;
  }

  private drainPending(): void {
    if (!this.sets.complete) return;
    const frames = this.pending;
    this.pending = [];
    for (const f of frames) this.frameAfterFirst(f);
  }

  /**
   * With demotion on, the first IDR waits for the next frame (one frame interval, once per
   * stream): when that is an IDR too, the stream is all-intra and the first sequence header
   * already carries the raised max_num_ref_frames (see SequenceHeaders).
   */
  private frameAfterFirst(f: PendingVideo): void {
    if (!this.options.demoteIdrs || this.firstIdrChecked) {
      this.frame(f);
      return;
    }
    const idr = isIdr(f);
    const held = this.heldFirstIdr;
    if (held === null) {
      if (idr) this.heldFirstIdr = f;
      else this.frame(f); // before the first IDR: dropped there
      return;
    }
    this.heldFirstIdr = null;
    this.firstIdrChecked = true;
    if (idr && Math.abs(signedDelta32(f.rawTs, held.rawTs)) < this.options.targetKeyframeIntervalMs)
      this.headers.raiseRefFrames();
    this.frame(held);
    this.frame(f);
  }

  private frame(f: PendingVideo): void {
    const idr = isIdr(f);
    if (!this.seenIdr) {
      if (!idr && this.gap?.resumesMidGop(f) !== true) {
        this.repair({ kind: RepairKind.DROPPED_BEFORE_IDR, track: 'video', atMs: f.rawTs, amount: 1 });
        return;
      }
      this.seenIdr = true;
    }
    if (!this.gate.isOpen && this.gate.hold('video', f.rawTs, () => this.timedFrame(f, idr))) return;
    this.timedFrame(f, idr);
  }

  /** A frame past the start gate, step by step. */
  private timedFrame(f: PendingVideo, idr: boolean): void {
    const dts = this.dts(f);
    // GOP policy, part 1: an IDR sooner than the target interval after the last keyframe is thinned.
    const tooSoon =
      idr && this.out.lastKeyOutMs !== null && dts - this.out.lastKeyOutMs < this.options.targetKeyframeIntervalMs;
    const inband = idr ? this.sequenceHeader(f, dts, !tooSoon) : null;
    // An IDR that a new configuration went out for stays a keyframe, however soon.
    const key = this.keyframe(f, dts, idr, tooSoon && inband === null);
    // Composition before demotion: CTS is read from the slices as sent.
    const cts = this.composition.cts(f, dts);
    const nals = this.demote(f, dts, idr, key, inband);
    this.send(f, dts, key, cts, nals);
  }

  /** Timeline, then cadence: the frame's output DTS, strictly increasing, in ms. */
  private dts(f: PendingVideo): number {
    let outMs: number;
    if (this.gate.needsStart('video')) {
      outMs = this.host.startOut(f.rawTs);
      this.timeline.start(f.rawTs, outMs);
      this.cadence.reset();
    } else {
      outMs = this.timeline.next(f.rawTs, this.repair);
    }
    const frameMs = this.cadenceFrameMs();
    if (frameMs !== null) {
      this.cadence.setFrameDuration(frameMs);
      this.interleaver.setFrameDuration('video', frameMs);
    }
    const snapped = frameMs === null ? outMs : this.cadence.snap(outMs, this.timeline.measured);
    if (Math.round(snapped) !== Math.round(outMs)) {
      this.repair({
        kind: RepairKind.CADENCE_SNAP,
        track: 'video',
        atMs: f.rawTs,
        amount: Math.round(snapped - outMs),
      });
    }
    // Rounding to ms must not make two frames share a timestamp.
    const dts = Math.max(Math.round(snapped), this.out.lastDts + 1);
    this.out.lastDts = dts;
    return dts;
  }

  /**
   * A new or changed decoder configuration goes out right before the IDR it applies to (a
   * new SPS takes effect only at an IDR). Returns the parameter sets to repeat in band, or
   * null when no sequence header went out.
   */
  private sequenceHeader(f: PendingVideo, dts: number, mayChange: boolean): Buffer[] | null {
    const header = this.headers.atIdr(mayChange, f.rawTs);
    if (header === null) return null;
    this.interleaver.push('video', dts, { tagType: TAG_VIDEO, timestampMs: dts, data: header.data }, true);
    this.gap?.filler.configurationSent(header.data);
    this.composition.configurationSent(f);
    return header.inband;
  }

  /** GOP policy, part 2: the keyframe flag from NAL types, an IDR to `thin` losing it; GOP length checked. */
  private keyframe(f: PendingVideo, dts: number, idr: boolean, thin: boolean): boolean {
    const maxMs = this.options.maxKeyframeIntervalMs;
    let key = idr;
    if (idr) {
      if (this.out.lastIdrOutMs !== null && dts - this.out.lastIdrOutMs > maxMs) {
        this.host.decide(TranscodeReason.GOP_TOO_LONG, f.rawTs, `${dts - this.out.lastIdrOutMs} ms between IDRs`);
      }
      if (this.out.lastIdrOutMs !== null) this.out.lastGopMs = dts - this.out.lastIdrOutMs;
      this.out.lastIdrOutMs = dts;
      this.composition.idrAt(dts);
      if (thin) {
        key = false;
        this.repair({
          kind: RepairKind.KEYFRAME_THINNED,
          track: 'video',
          atMs: f.rawTs,
          amount: dts - (this.out.lastKeyOutMs as number),
        });
      } else {
        this.out.lastKeyOutMs = dts;
      }
    } else if (this.out.lastIdrOutMs !== null && dts - this.out.lastIdrOutMs > maxMs) {
      this.host.decide(TranscodeReason.GOP_TOO_LONG, f.rawTs, `no IDR for ${dts - this.out.lastIdrOutMs} ms`);
    }
    if (idr !== f.flagKey) this.repair({ kind: RepairKind.KEYFRAME_FLAG, track: 'video', atMs: f.rawTs, amount: 1 });
    return key;
  }

  /** The NAL units to send: thinned IDRs demoted, the pictures after them renumbered (demotion on). */
  private demote(f: PendingVideo, dts: number, idr: boolean, key: boolean, inband: Buffer[] | null): Buffer[] {
    const nals = inband !== null && inband.length ? [...inband, ...f.nals] : f.nals;
    if (!this.options.demoteIdrs) return nals;
    const result = this.demoter.frame(nals, idr, idr && !key);
    if (result.demoted) {
      this.repair({
        kind: RepairKind.IDR_DEMOTED,
        track: 'video',
        atMs: f.rawTs,
        amount: dts - (this.out.lastKeyOutMs as number),
      });
      this.headers.raiseRefFrames();
    } else if (result.renumbered) {
      this.repair({ kind: RepairKind.SLICE_RENUMBERED, track: 'video', atMs: f.rawTs, amount: 1 });
    }
    return result.nals;
  }

  /** Out to the interleaver: the original tag body when nothing in it changed. */
  private send(f: PendingVideo, dts: number, key: boolean, cts: number, nals: Buffer[]): void {
    const frameType = key ? 1 : 2;
    const passthrough =
      nals === f.nals && f.passthrough !== null && (f.passthrough[0] as number) >> 4 === frameType && cts === f.cts;
    const data = passthrough
      ? (f.passthrough as Buffer)
      : buildAvcVideoTagBody({ frameType, packetType: 1, compositionTimeMs: cts, data: joinAvcc(nals) });
    this.host.framesOut();
    if (dts + cts > this.out.maxPtsMs) this.out.maxPtsMs = dts + cts;
    if (cts !== 0) this.out.sawReordering = true;
    this.gap?.filler.picture(nals);
    this.interleaver.push('video', dts, { tagType: TAG_VIDEO, timestampMs: dts, data });
  }
}

function isIdr(f: PendingVideo): boolean {
  return f.nals.some((n) => nalType(n) === NalType.IDR);
}

/**
 * A step (or measured interval) fits the grid of `frameMs`: about one interval, or about a
 * whole number of them (frames the camera skipped in low light keep to the same grid).
 */
function onGridOf(stepMs: number, frameMs: number): boolean {
  const ratio = stepMs / frameMs;
  return ratio >= 1 - GRID_FIT_TOLERANCE && Math.abs(ratio - Math.round(ratio)) <= GRID_FIT_TOLERANCE;
}
