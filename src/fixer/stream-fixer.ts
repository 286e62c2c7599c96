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
 * Pure: no sockets, timers or logger. The offline `fix`, the live relay and the tests all
 * push tags in and take tags out.
 */
import { buildAvcConfig, parseAvcConfig } from '../flv/avc-config.js';
import { buildAvcVideoTagBody, parseVideoTagBody } from '../flv/flv-tag.js';
import { ParameterSets } from '../flv/h264-slice.js';
import { raiseMaxNumRefFrames } from '../flv/h264-sps-rewrite.js';
import type { Sps } from '../flv/h264-sps.js';
import { joinAvcc, nalType, NalType, splitNalUnits } from '../flv/nal-units.js';
import { MIN_KEYFRAME_INTERVAL_MS } from '../media/output-contract.js';
import { AudioTrack, type AudioTrackHost } from './audio-track.js';
import { IdrDemoter } from './idr-demotion.js';
import { Interleaver } from './interleaver.js';
import { PocCounter } from '../flv/h264-poc.js';
import {
  RepairKind,
  TranscodeReason,
  summarise,
  type RepairRecord,
  type RepairSummary,
  type TranscodeDecision,
} from './repairs.js';
import { START_ALIGN_MS, StartGate } from './start-gate.js';
import { ClockShifts, TrackTimeline, VideoCadence } from './track-timeline.js';
import { signedDelta32 } from '../media/timestamps.js';
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
}

export const DEFAULT_FIXER_OPTIONS: FixerOptions = {
  targetKeyframeIntervalMs: MIN_KEYFRAME_INTERVAL_MS,
  maxKeyframeIntervalMs: 10_000,
  reorderWindowMs: 500,
  maxPendingFrames: 300,
  demoteIdrs: true,
  seamReady: false,
};
/** max_num_ref_frames given to streams whose IDRs are demoted (see h264-sps-rewrite.ts). */
const DEMOTION_REF_FRAMES = 2;

/** Video frame duration assumed until the stream tells, in ms (30 fps). */
const DEFAULT_VIDEO_FRAME_MS = 1000 / 30;
/** A step within this fraction of a whole number of frame intervals is on that grid. */
const GRID_FIT_TOLERANCE = 0.4;
/** B-frame reorder delay assumed when the SPS does not state max_num_reorder_frames. */
const DEFAULT_REORDER_FRAMES = 2;

interface PendingVideo {
  rawTs: number;
  nals: Buffer[];
  cts: number;
  flagKey: boolean;
  /** The original body, when it can go out unchanged. */
  passthrough: Buffer | null;
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
  // Video
  private videoCodec: string | null = null;
  private nalLengthSize: 1 | 2 | 4 = 4;
  private sps: Buffer[] = [];
  private pps: Buffer[] = [];
  private readonly paramSets = new ParameterSets();
  private currentSps: Sps | null = null;
  private lastSentConfig: Buffer | null = null;
  /** sps as sent (maybe rewritten) and as received. */
  private lastSentSets: { sps: Buffer[]; rawSps: Buffer[]; pps: Buffer[] } | null = null;
  private lastReceivedConfig: Buffer | null = null;
  private pending: PendingVideo[] = [];
  private seenIdr = false;
  private readonly videoTimeline = new TrackTimeline('video', DEFAULT_VIDEO_FRAME_MS, this.shifts);
  private readonly cadence = new VideoCadence();
  private lastKeyOutMs: number | null = null;
  private lastIdrOutMs: number | null = null;
  private pocMode = false;
  private readonly poc = new PocCounter();
  private readonly demoter = new IdrDemoter(this.paramSets);
  /** Raise max_num_ref_frames in the next sequence header sent (an IDR was demoted, or the SPS declares 0). */
  private raiseRefFrames = false;
  private raised: { from: Buffer[]; to: Buffer[] } | null = null;
  /** The first IDR, held for one frame to see whether the stream is all-intra (demotion on). */
  private heldFirstIdr: PendingVideo | null = null;
  private firstIdrChecked = false;
  private idrDtsMs = 0;
  private lastVideoDts = -Infinity;
  private readonly audio: AudioTrack;

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
    this.raiseRefFrames = this.options.demoteIdrs && this.options.seamReady;
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

  /** What the stream carries, as far as known: codecs, and from the SPS the picture. */
  get mediaInfo(): {
    video:
      | { codec: string; width: number; height: number; fps: number | null; profileIdc: number; levelIdc: number }
      | { codec: string }
      | null;
    audio: { codec: string; sampleRate: number; stereo: boolean } | null;
  } {
    const sps = this.currentSps;
    const video =
      this.videoCodec === null
        ? null
        : sps === null
          ? { codec: this.videoCodec }
          : {
              codec: this.videoCodec,
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
    return this.cadenceFrameMs() ?? this.videoTimeline.frameDurationMs;
  }

  /**
   * The interval the cadence grid is built on, in ms: the SPS's exact 1000/fps while the
   * stream's own measured interval fits its grid (onGridOf; an SPS can claim 15 fps while
   * the camera delivers 30), else the measured one; null (no snapping) while there is
   * neither. Before the measurement, frames that come faster than the grid are not snapped.
   */
  private cadenceFrameMs(): number | null {
    const fps = this.currentSps?.vui?.fps;
    const claimed = fps && fps > 1 && fps <= 120 ? 1000 / fps : null;
    if (!this.videoTimeline.measured) return claimed;
    const measured = this.videoTimeline.frameDurationMs;
    return claimed !== null && onGridOf(measured, claimed) ? claimed : measured;
  }

  /** Set when the stream needs what a remux cannot do; the fixer keeps working regardless. */
  get decision(): TranscodeDecision | null {
    return this.decisionValue;
  }

  push(tag: MediaTag): void {
    this.stats.tagsIn++;
    if (tag.tagType === TAG_VIDEO) this.onVideo(tag);
    else if (tag.tagType === TAG_AUDIO) this.audio.push(tag);
    else if (tag.tagType === TAG_SCRIPT) this.onScript(tag);
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
    const held = this.heldFirstIdr;
    this.heldFirstIdr = null;
    if (held !== null) this.videoFrame(held);
    this.gate.release();
    this.pending = [];
    this.audio.newPublish();
    this.seenIdr = false;
    this.shifts.clear();
    const next = (last: number, frameMs: number): number => (last === -Infinity ? 0 : last + frameMs);
    this.gate.restart(
      Math.max(
        next(this.lastVideoDts, this.videoFrameDurationMs),
        next(this.audio.lastOutMs, this.audio.frameDurationMs),
      ),
    );
  }

  /** End of stream: release everything held. */
  flush(): void {
    const held = this.heldFirstIdr;
    this.heldFirstIdr = null;
    if (held !== null) this.videoFrame(held);
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
    const other = track === 'audio' ? this.lastVideoDts : this.audio.lastOutMs;
    return this.gate.startOut(track, raw, other === -Infinity ? 0 : other);
  }

  // ---------------------------------------------------------------------------------- video

  private onVideo(tag: MediaTag): void {
    let body;
    try {
      body = parseVideoTagBody(tag.data);
    } catch {
      return;
    }
    this.videoCodec ??= body.codec;
    if (body.codec !== 'avc' && body.codec !== 'avc1') {
      this.decide(TranscodeReason.UNSUPPORTED_VIDEO_CODEC, tag.timestampMs, `video codec ${body.codec}`);
      return;
    }
    if (body.packetKind === 'sequence-header') {
      try {
        const config = parseAvcConfig(body.data);
        this.nalLengthSize = config.nalLengthSize;
        this.lastReceivedConfig = Buffer.from(body.data);
        this.setParameterSets(config.sps, config.pps);
      } catch {
        // A broken sequence header: in-band parameter sets may still save the stream.
      }
      this.drainPending();
      return;
    }
    if (body.packetKind !== 'coded-frames') return;
    this.stats.videoFramesIn++;
    let split;
    try {
      split = splitNalUnits(body.data, this.nalLengthSize);
    } catch {
      return;
    }
    const nals: Buffer[] = [];
    let changed = split.framing !== 'avcc' || this.nalLengthSize !== 4;
    if (split.framing !== 'avcc')
      this.repair({ kind: RepairKind.NAL_REFRAMED, track: 'video', atMs: tag.timestampMs, amount: split.nals.length });
    const inbandSps: Buffer[] = [];
    const inbandPps: Buffer[] = [];
    for (const nal of split.nals) {
      const type = nalType(nal);
      if (type === NalType.AUD || type === NalType.FILLER) {
        changed = true;
        this.repair({ kind: RepairKind.NAL_DROPPED, track: 'video', atMs: tag.timestampMs, amount: nal.length });
      } else if (type === NalType.SPS) {
        inbandSps.push(nal);
      } else if (type === NalType.PPS) {
        inbandPps.push(nal);
      } else {
        nals.push(nal);
      }
    }
    if (inbandSps.length || inbandPps.length) {
      changed = true;
      this.repair({
        kind: RepairKind.PARAMETER_SETS_MOVED,
        track: 'video',
        atMs: tag.timestampMs,
        amount: inbandSps.length + inbandPps.length,
      });
      this.setParameterSets(inbandSps.length ? inbandSps : this.sps, inbandPps.length ? inbandPps : this.pps);
    }
    if (nals.length === 0) return;
    this.pending.push({
      rawTs: tag.timestampMs,
      nals,
      cts: body.compositionTimeMs,
      flagKey: body.frameType === 1,
      passthrough: changed ? null : tag.data,
    });
    if (this.sps.length === 0 || this.pps.length === 0) {
      // No parameter sets yet (a late sequence header): hold the frames, within bounds.
      while (this.pending.length > this.options.maxPendingFrames) {
        const dropped = this.pending.shift() as PendingVideo;
        this.repair({ kind: RepairKind.DROPPED_BEFORE_IDR, track: 'video', atMs: dropped.rawTs, amount: 1 });
      }
      return;
    }
    this.drainPending();
  }

  private setParameterSets(sps: Buffer[], pps: Buffer[]): void {
    if (sps.length === 0 || pps.length === 0) {
      if (sps.length) this.sps = sps.map((b) => Buffer.from(b));
      if (pps.length) this.pps = pps.map((b) => Buffer.from(b));
    } else {
      this.sps = sps.map((b) => Buffer.from(b));
      this.pps = pps.map((b) => Buffer.from(b));
    }
    for (const s of this.sps) {
      try {
        this.currentSps = this.paramSets.addSps(s);
      } catch {
        // Unparsable SPS: slices cannot be read, the stream still passes.
      }
    }
    for (const p of this.pps) {
      try {
        this.paramSets.addPps(p);
      } catch {
        // as above
      }
    }
    // The SPS rate is a hint until the stream's own steps are measured (cadenceFrameMs).
    const fps = this.currentSps?.vui?.fps;
    if (fps && fps > 1 && fps <= 120 && !this.videoTimeline.measured) this.videoTimeline.setFrameDuration(1000 / fps);
  }

  private drainPending(): void {
    if (this.sps.length === 0 || this.pps.length === 0) return;
    const frames = this.pending;
    this.pending = [];
    for (const f of frames) this.videoFrameAfterFirst(f);
  }

  /**
   * With demotion on, the first IDR waits for the next frame (one frame interval, once per
   * stream): when that is an IDR too, the stream is all-intra and the first sequence header
   * already carries the raised max_num_ref_frames (see configSps).
   */
  private videoFrameAfterFirst(f: PendingVideo): void {
    if (!this.options.demoteIdrs || this.firstIdrChecked) {
      this.videoFrame(f);
      return;
    }
    const idr = f.nals.some((n) => nalType(n) === NalType.IDR);
    const held = this.heldFirstIdr;
    if (held === null) {
      if (idr) this.heldFirstIdr = f;
      else this.videoFrame(f); // before the first IDR: dropped there
      return;
    }
    this.heldFirstIdr = null;
    this.firstIdrChecked = true;
    if (idr && Math.abs(signedDelta32(f.rawTs, held.rawTs)) < this.options.targetKeyframeIntervalMs)
      this.raiseRefFrames = true;
    this.videoFrame(held);
    this.videoFrame(f);
  }

  private videoFrame(f: PendingVideo): void {
    const idr = f.nals.some((n) => nalType(n) === NalType.IDR);
    if (!this.seenIdr) {
      if (!idr) {
        this.repair({ kind: RepairKind.DROPPED_BEFORE_IDR, track: 'video', atMs: f.rawTs, amount: 1 });
        return;
      }
      this.seenIdr = true;
    }
    if (!this.gate.isOpen && this.gate.hold('video', f.rawTs, () => this.timedVideoFrame(f, idr))) return;
    this.timedVideoFrame(f, idr);
  }

  /** Timeline, then cadence: the frame's output DTS, strictly increasing, in ms. */
  private videoDts(f: PendingVideo): number {
    let outMs: number;
    if (this.gate.needsStart('video')) {
      outMs = this.startOut('video', f.rawTs);
      this.videoTimeline.start(f.rawTs, outMs);
      this.cadence.reset();
    } else {
      outMs = this.videoTimeline.next(f.rawTs, (r) => this.repair(r));
    }
    const frameMs = this.cadenceFrameMs();
    if (frameMs !== null) {
      this.cadence.setFrameDuration(frameMs);
      this.interleaver.setFrameDuration('video', frameMs);
    }
    const snapped = frameMs === null ? outMs : this.cadence.snap(outMs, this.videoTimeline.measured);
    if (Math.round(snapped) !== Math.round(outMs)) {
      this.repair({
        kind: RepairKind.CADENCE_SNAP,
        track: 'video',
        atMs: f.rawTs,
        amount: Math.round(snapped - outMs),
      });
    }
    // Rounding to ms must not make two frames share a timestamp.
    const dts = Math.max(Math.round(snapped), this.lastVideoDts + 1);
    this.lastVideoDts = dts;
    return dts;
  }

  private timedVideoFrame(f: PendingVideo, idr: boolean): void {
    const dts = this.videoDts(f);

    // GOP policy, part 1: an IDR sooner than the target interval after the last keyframe is thinned.
    const tooSoon =
      idr && this.lastKeyOutMs !== null && dts - this.lastKeyOutMs < this.options.targetKeyframeIntervalMs;

    // A new or changed decoder configuration goes out right before the IDR it applies to;
    // that IDR stays a keyframe whatever its distance (a new SPS takes effect only at an IDR).
    let configSent = false;
    let inbandSets: Buffer[] = [];
    if (idr) {
      const sps = this.configSps(!tooSoon);
      // Cheap check first: the same parameter sets as last sent (every IDR of an all-intra
      // stream with in-band SPS/PPS comes through here).
      const unchanged =
        this.lastSentSets !== null &&
        sameBuffers(this.lastSentSets.sps, sps) &&
        sameBuffers(this.lastSentSets.pps, this.pps);
      const config = unchanged ? null : buildAvcConfig({ sps, pps: this.pps });
      const same = config === null || (this.lastSentConfig !== null && configsEqual(this.lastSentConfig, config));
      this.lastSentSets = { sps, rawSps: this.sps, pps: this.pps };
      if (!same && config !== null) {
        const received = this.lastReceivedConfig;
        const body = received !== null && configsEqual(received, config) ? received : config;
        if (body === config)
          this.repair({ kind: RepairKind.AVC_SEQUENCE_HEADER, track: 'video', atMs: f.rawTs, amount: config.length });
        this.interleaver.push(
          'video',
          dts,
          {
            tagType: TAG_VIDEO,
            timestampMs: dts,
            data: buildAvcVideoTagBody({ frameType: 1, packetType: 0, compositionTimeMs: 0, data: body }),
          },
          true,
        );
        // A raise after the start also goes in band: FFmpeg's parser reads only the first
        // sequence header, so it would keep judging I pictures by the old SPS.
        if (this.lastSentConfig !== null && this.raised !== null && sps === this.raised.to)
          inbandSets = [...sps, ...this.pps];
        this.lastSentConfig = config;
        this.pocMode = this.pocMode || this.needsPoc(f);
        configSent = true;
      }
    }

    // GOP policy, part 2: keyframe flag from NAL types; thinned IDRs demoted.
    let key = idr;
    if (idr) {
      if (this.lastIdrOutMs !== null && dts - this.lastIdrOutMs > this.options.maxKeyframeIntervalMs) {
        this.decide(TranscodeReason.GOP_TOO_LONG, f.rawTs, `${dts - this.lastIdrOutMs} ms between IDRs`);
      }
      this.lastIdrOutMs = dts;
      this.idrDtsMs = dts;
      if (tooSoon && !configSent) {
        key = false;
        this.repair({
          kind: RepairKind.KEYFRAME_THINNED,
          track: 'video',
          atMs: f.rawTs,
          amount: dts - (this.lastKeyOutMs as number),
        });
      } else {
        this.lastKeyOutMs = dts;
      }
    } else if (this.lastIdrOutMs !== null && dts - this.lastIdrOutMs > this.options.maxKeyframeIntervalMs) {
      this.decide(TranscodeReason.GOP_TOO_LONG, f.rawTs, `no IDR for ${dts - this.lastIdrOutMs} ms`);
    }
    if (idr !== f.flagKey) this.repair({ kind: RepairKind.KEYFRAME_FLAG, track: 'video', atMs: f.rawTs, amount: 1 });

    // Composition time: kept, or derived from the POC for B-frames sent with 0.
    let cts = f.cts;
    if (this.pocMode && f.cts === 0) {
      const derived = this.ctsFromPoc(f, dts);
      if (derived !== null && derived !== cts) {
        cts = derived;
        this.repair({ kind: RepairKind.CTS_FROM_POC, track: 'video', atMs: f.rawTs, amount: cts });
      }
    } else if (!this.pocMode && f.cts === 0 && this.hasB(f)) {
      this.pocMode = true;
      const derived = this.ctsFromPoc(f, dts);
      if (derived !== null) {
        cts = derived;
        this.repair({ kind: RepairKind.CTS_FROM_POC, track: 'video', atMs: f.rawTs, amount: cts });
      }
    }

    // Demotion last: CTS above was read from the slices as sent.
    let nals = inbandSets.length ? [...inbandSets, ...f.nals] : f.nals;
    if (this.options.demoteIdrs) {
      const result = this.demoter.frame(nals, idr, idr && !key);
      nals = result.nals;
      if (result.demoted) {
        this.repair({
          kind: RepairKind.IDR_DEMOTED,
          track: 'video',
          atMs: f.rawTs,
          amount: dts - (this.lastKeyOutMs as number),
        });
        this.raiseRefFrames = true;
      } else if (result.renumbered) {
        this.repair({ kind: RepairKind.SLICE_RENUMBERED, track: 'video', atMs: f.rawTs, amount: 1 });
      }
    }

    const frameType = key ? 1 : 2;
    const passthrough =
      nals === f.nals && f.passthrough !== null && (f.passthrough[0] as number) >> 4 === frameType && cts === f.cts;
    const data = passthrough
      ? (f.passthrough as Buffer)
      : buildAvcVideoTagBody({ frameType, packetType: 1, compositionTimeMs: cts, data: joinAvcc(nals) });
    this.stats.videoFramesOut++;
    this.interleaver.push('video', dts, { tagType: TAG_VIDEO, timestampMs: dts, data });
  }

  /**
   * The SPS to put in a sequence header. With IDR demotion on, max_num_ref_frames is raised
   * once an IDR has been demoted or when the SPS declares no reference frames at all (an
   * all-intra encoder), and only at a kept IDR (`mayChange`): an SPS changes only at an IDR.
   */
  private configSps(mayChange: boolean): Buffer[] {
    if (!this.options.demoteIdrs) return this.sps;
    if (this.raised !== null && sameBuffers(this.raised.from, this.sps)) return this.raised.to;
    const declaresNoRefs = this.currentSps !== null && this.currentSps.maxNumRefFrames === 0;
    if (!(this.raiseRefFrames || declaresNoRefs)) return this.sps;
    // Not at this IDR: keep what was sent for these parameter sets (a new SPS forces a keyframe anyway).
    if (!mayChange && this.lastSentSets !== null && sameBuffers(this.lastSentSets.rawSps, this.sps))
      return this.lastSentSets.sps;
    const to = this.sps.map((nal) => {
      try {
        return raiseMaxNumRefFrames(nal, DEMOTION_REF_FRAMES);
      } catch {
        return nal; // the level allows no more frames: the flag and NAL type still tell
      }
    });
    if (!sameBuffers(to, this.sps))
      this.repair({ kind: RepairKind.SPS_REF_FRAMES, track: 'video', atMs: 0, amount: DEMOTION_REF_FRAMES });
    this.raised = { from: this.sps, to };
    return to;
  }

  private firstSlice(f: PendingVideo): Buffer | undefined {
    return f.nals.find((n) => {
      const t = nalType(n);
      return t === NalType.IDR || t === NalType.SLICE;
    });
  }

  private hasB(f: PendingVideo): boolean {
    const slice = this.firstSlice(f);
    if (!slice) return false;
    try {
      return this.paramSets.sliceHeader(slice).sliceKind === 'B';
    } catch {
      return false;
    }
  }

  /** An IDR with CTS 0 in a stream whose SPS allows reordering: B-frames will come without CTS. */
  private needsPoc(f: PendingVideo): boolean {
    const reorder = this.currentSps?.vui?.maxNumReorderFrames;
    return f.cts === 0 && reorder !== null && reorder !== undefined && reorder > 0;
  }

  private ctsFromPoc(f: PendingVideo, dts: number): number | null {
    const slice = this.firstSlice(f);
    const sps = this.currentSps;
    if (!slice || !sps) return null;
    if (sps.picOrderCntType === 1) {
      this.decide(TranscodeReason.BFRAMES_WITHOUT_POC, f.rawTs, 'B-frames with CTS 0 and pic_order_cnt_type 1');
      return null;
    }
    if (sps.picOrderCntType !== 0) return 0;
    let header;
    try {
      header = this.paramSets.sliceHeader(slice);
    } catch {
      return null;
    }
    const poc = this.poc.next(header, sps) ?? 0;
    const frameMs = this.videoFrameDurationMs;
    const reorder = sps.vui?.maxNumReorderFrames ?? DEFAULT_REORDER_FRAMES;
    // x264 and MediaCodec count POC in steps of 2 per frame.
    const pts = this.idrDtsMs + (poc / 2 + reorder) * frameMs;
    return Math.max(0, Math.round(pts - dts));
  }
}

/**
 * A step (or measured interval) fits the grid of `frameMs`: about one interval, or about a
 * whole number of them (frames the camera skipped in low light keep to the same grid).
 */
function onGridOf(stepMs: number, frameMs: number): boolean {
  const ratio = stepMs / frameMs;
  return ratio >= 1 - GRID_FIT_TOLERANCE && Math.abs(ratio - Math.round(ratio)) <= GRID_FIT_TOLERANCE;
}

function sameBuffers(a: Buffer[], b: Buffer[]): boolean {
  return a.length === b.length && a.every((x, i) => x.equals(b[i] as Buffer));
}

/** Two avcC records carry the same configuration (ignoring the optional High-profile extension). */
function configsEqual(a: Buffer, b: Buffer): boolean {
  try {
    const x = parseAvcConfig(a);
    const y = parseAvcConfig(b);
    return (
      x.sps.length === y.sps.length &&
      x.pps.length === y.pps.length &&
      x.sps.every((s, i) => s.equals(y.sps[i] as Buffer)) &&
      x.pps.every((p, i) => p.equals(y.pps[i] as Buffer))
    );
  } catch {
    return a.equals(b);
  }
}
