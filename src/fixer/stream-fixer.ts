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
import { parseAudioSpecificConfig } from '../flv/aac-config.js';
import { adtsToAudioSpecificConfig, isAdts, stripAdts } from '../flv/adts.js';
import { buildAvcConfig, parseAvcConfig } from '../flv/avc-config.js';
import { buildAacAudioTagBody, buildAvcVideoTagBody, parseAudioTagBody, parseVideoTagBody } from '../flv/flv-tag.js';
import { ParameterSets } from '../flv/h264-slice.js';
import { raiseMaxNumRefFrames } from '../flv/h264-sps-rewrite.js';
import type { Sps } from '../flv/h264-sps.js';
import { joinAvcc, nalType, NalType, splitNalUnits } from '../flv/nal-units.js';
import { IdrDemoter } from './idr-demotion.js';
import { Interleaver } from './interleaver.js';
import { PocCounter } from './poc.js';
import {
  RepairKind,
  TranscodeReason,
  summarise,
  type RepairRecord,
  type RepairSummary,
  type TranscodeDecision,
} from './repairs.js';
import { AudioClock, TrackTimeline, VideoCadence, signedDelta32 } from './track-timeline.js';

export const TAG_AUDIO = 8;
export const TAG_VIDEO = 9;
export const TAG_SCRIPT = 18;

export interface FixerTag {
  tagType: number;
  /** ms, 32-bit as sent (input) or from 0 (output). */
  timestampMs: number;
  data: Buffer;
}

export interface FixerOptions {
  /** Keep the keyframe flag only on IDRs at least this far apart (all-intra streams), in ms. */
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
}

export const DEFAULT_FIXER_OPTIONS: FixerOptions = {
  targetKeyframeIntervalMs: 2000,
  maxKeyframeIntervalMs: 10_000,
  reorderWindowMs: 500,
  maxPendingFrames: 300,
  demoteIdrs: true,
};
/** max_num_ref_frames given to streams whose IDRs are demoted (see h264-sps-rewrite.ts). */
const DEMOTION_REF_FRAMES = 2;

/** A first timestamp further than this from the stream's first is not aligned to it, in ms. */
const START_ALIGN_MS = 1000;
/** AAC frames carry 1024 samples (960 in the rare 960 variant, from the ASC). */
const AAC_FRAME_SAMPLES = 1024;
/** Frame duration assumed until the stream tells, in ms (30 fps; 1024 samples at 44.1 kHz). */
const DEFAULT_VIDEO_FRAME_MS = 1000 / 30;
const DEFAULT_AUDIO_FRAME_MS = (1024 * 1000) / 44100;
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
  readonly stats: FixerStats = { tagsIn: 0, tagsOut: 0, videoFramesIn: 0, videoFramesOut: 0, audioFramesIn: 0, audioFramesOut: 0 };
  private decisionValue: TranscodeDecision | null = null;
  private readonly out: (tag: FixerTag) => void;
  private readonly onRepair: ((r: RepairRecord) => void) | undefined;
  private readonly interleaver: Interleaver;
  private firstRaw: number | null = null;
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
  private readonly videoTimeline = new TrackTimeline('video', DEFAULT_VIDEO_FRAME_MS);
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
  // Audio
  private audioCodec: string | null = null;
  private asc: Buffer | null = null;
  private ascSent: Buffer | null = null;
  private audioStereo = true;
  private frameSamples = AAC_FRAME_SAMPLES;
  private audioSampleRate = 0;
  private pendingAudio: FixerTag[] = [];
  private readonly audioTimeline = new TrackTimeline('audio', DEFAULT_AUDIO_FRAME_MS);
  private readonly audioClock = new AudioClock();

  constructor(out: (tag: FixerTag) => void, options: Partial<FixerOptions> = {}, onRepair?: (r: RepairRecord) => void) {
    this.options = { ...DEFAULT_FIXER_OPTIONS, ...options };
    this.out = out;
    this.onRepair = onRepair;
    this.interleaver = new Interleaver(this.options.reorderWindowMs, (tag) => this.emit(tag), (r) => this.repair(r));
  }

  /** What the stream carries, as far as known: codecs, and from the SPS the picture. */
  get mediaInfo(): {
    video: { codec: string; width: number; height: number; fps: number | null; profileIdc: number; levelIdc: number } | { codec: string } | null;
    audio: { codec: string; sampleRate: number; stereo: boolean } | null;
  } {
    const sps = this.currentSps;
    const video =
      this.videoCodec === null
        ? null
        : sps === null
          ? { codec: this.videoCodec }
          : { codec: this.videoCodec, width: sps.width, height: sps.height, fps: sps.vui?.fps ?? null, profileIdc: sps.profileIdc, levelIdc: sps.levelIdc };
    const audio = this.audioCodec === null ? null : { codec: this.audioCodec, sampleRate: this.audioSampleRate, stereo: this.audioStereo };
    return { video, audio };
  }

  /** The video frame interval: from the SPS timing, else measured, else 30 fps; in ms. */
  get videoFrameDurationMs(): number {
    const fps = this.currentSps?.vui?.fps;
    return fps && fps > 1 && fps <= 120 ? 1000 / fps : this.videoTimeline.frameDurationMs;
  }

  /** Set when the stream needs what a remux cannot do; the fixer keeps working regardless. */
  get decision(): TranscodeDecision | null {
    return this.decisionValue;
  }

  push(tag: FixerTag): void {
    this.stats.tagsIn++;
    if (tag.tagType === TAG_VIDEO) this.onVideo(tag);
    else if (tag.tagType === TAG_AUDIO) this.onAudio(tag);
    else if (tag.tagType === TAG_SCRIPT) this.onScript(tag);
  }

  /**
   * A new publish on the same path (the publisher reconnected): the output goes on as one
   * stream. Each track continues one frame interval after its last output, video resumes at
   * the next IDR (kept as a keyframe, frames before it dropped), and the sequence headers go
   * out again before it. The first onMetaData stays the only one.
   */
  newPublish(): void {
    const held = this.heldFirstIdr;
    this.heldFirstIdr = null;
    if (held !== null) this.videoFrame(held);
    this.pending = [];
    this.pendingAudio = [];
    this.seenIdr = false;
    this.lastKeyOutMs = null;
    this.lastSentConfig = null;
    this.lastSentSets = null;
    this.ascSent = null;
    this.videoTimeline.resume();
    this.audioTimeline.resume();
  }

  /** End of stream: release everything held. */
  flush(): void {
    const held = this.heldFirstIdr;
    this.heldFirstIdr = null;
    if (held !== null) this.videoFrame(held);
    this.interleaver.flush();
  }

  private emit(tag: FixerTag): void {
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

  private onScript(tag: FixerTag): void {
    // The first onMetaData goes out first; later ones (a new publish) are dropped, the
    // sequence headers say what changed.
    if (this.metadataSent) return;
    this.metadataSent = true;
    this.interleaver.pushData({ tagType: TAG_SCRIPT, timestampMs: 0, data: tag.data });
  }

  /** Output start for a track's first tag: aligned with the stream's first timestamp when close. */
  private startTrack(timeline: TrackTimeline, raw: number, other: TrackTimeline): void {
    if (this.firstRaw === null) {
      this.firstRaw = raw;
      if (raw > START_ALIGN_MS) this.repair({ kind: RepairKind.TS_START_OFFSET, track: timeline.track, atMs: raw, amount: raw });
    }
    const offset = signedDelta32(raw, this.firstRaw);
    const outMs = Math.abs(offset) <= START_ALIGN_MS ? Math.max(0, offset) : other.started ? other.lastOut : 0;
    timeline.start(raw, outMs);
  }

  // ---------------------------------------------------------------------------------- video

  private onVideo(tag: FixerTag): void {
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
    if (split.framing !== 'avcc') this.repair({ kind: RepairKind.NAL_REFRAMED, track: 'video', atMs: tag.timestampMs, amount: split.nals.length });
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
      this.repair({ kind: RepairKind.PARAMETER_SETS_MOVED, track: 'video', atMs: tag.timestampMs, amount: inbandSps.length + inbandPps.length });
      this.setParameterSets(inbandSps.length ? inbandSps : this.sps, inbandPps.length ? inbandPps : this.pps);
    }
    if (nals.length === 0) return;
    this.pending.push({ rawTs: tag.timestampMs, nals, cts: body.compositionTimeMs, flagKey: body.frameType === 1, passthrough: changed ? null : tag.data });
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
    const fps = this.currentSps?.vui?.fps;
    if (fps && fps > 1 && fps <= 120) {
      this.videoTimeline.setFrameDuration(1000 / fps);
      this.cadence.setFrameDuration(1000 / fps);
      this.interleaver.setFrameDuration('video', 1000 / fps);
    }
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
    if (idr && Math.abs(signedDelta32(f.rawTs, held.rawTs)) < this.options.targetKeyframeIntervalMs) this.raiseRefFrames = true;
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
    // Timeline, then cadence.
    let outMs: number;
    if (!this.videoTimeline.started) {
      this.startTrack(this.videoTimeline, f.rawTs, this.audioTimeline);
      outMs = this.videoTimeline.lastOut;
    } else {
      outMs = this.videoTimeline.next(f.rawTs, (r) => this.repair(r));
    }
    const snapped = this.cadence.snap(outMs);
    if (Math.round(snapped) !== Math.round(outMs)) {
      this.repair({ kind: RepairKind.CADENCE_SNAP, track: 'video', atMs: f.rawTs, amount: Math.round(snapped - outMs) });
    }
    // Rounding to ms must not make two frames share a timestamp.
    const dts = Math.max(Math.round(snapped), this.lastVideoDts + 1);
    this.lastVideoDts = dts;

    // GOP policy, part 1: an IDR sooner than the target interval after the last keyframe is thinned.
    const tooSoon = idr && this.lastKeyOutMs !== null && dts - this.lastKeyOutMs < this.options.targetKeyframeIntervalMs;

    // A new or changed decoder configuration goes out right before the IDR it applies to;
    // that IDR stays a keyframe whatever its distance (a new SPS takes effect only at an IDR).
    let configSent = false;
    let inbandSets: Buffer[] = [];
    if (idr) {
      const sps = this.configSps(!tooSoon);
      // Cheap check first: the same parameter sets as last sent (every IDR of an all-intra
      // stream with in-band SPS/PPS comes through here).
      const unchanged =
        this.lastSentSets !== null && sameBuffers(this.lastSentSets.sps, sps) && sameBuffers(this.lastSentSets.pps, this.pps);
      const config = unchanged ? null : buildAvcConfig({ sps, pps: this.pps });
      const same = config === null || (this.lastSentConfig !== null && configsEqual(this.lastSentConfig, config));
      this.lastSentSets = { sps, rawSps: this.sps, pps: this.pps };
      if (!same && config !== null) {
        const received = this.lastReceivedConfig;
        const body = received !== null && configsEqual(received, config) ? received : config;
        if (body === config) this.repair({ kind: RepairKind.AVC_SEQUENCE_HEADER, track: 'video', atMs: f.rawTs, amount: config.length });
        this.interleaver.push('video', dts, { tagType: TAG_VIDEO, timestampMs: dts, data: buildAvcVideoTagBody({ frameType: 1, packetType: 0, compositionTimeMs: 0, data: body }) }, true);
        // A raise after the start also goes in band: FFmpeg's parser reads only the first
        // sequence header, so it would keep judging I pictures by the old SPS.
        if (this.lastSentConfig !== null && this.raised !== null && sps === this.raised.to) inbandSets = [...sps, ...this.pps];
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
        this.repair({ kind: RepairKind.KEYFRAME_THINNED, track: 'video', atMs: f.rawTs, amount: dts - (this.lastKeyOutMs as number) });
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
        this.repair({ kind: RepairKind.IDR_DEMOTED, track: 'video', atMs: f.rawTs, amount: dts - (this.lastKeyOutMs as number) });
        this.raiseRefFrames = true;
      } else if (result.renumbered) {
        this.repair({ kind: RepairKind.SLICE_RENUMBERED, track: 'video', atMs: f.rawTs, amount: 1 });
      }
    }

    const frameType = key ? 1 : 2;
    const passthrough = nals === f.nals && f.passthrough !== null && (f.passthrough[0] as number) >> 4 === frameType && cts === f.cts;
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
    if (!mayChange && this.lastSentSets !== null && sameBuffers(this.lastSentSets.rawSps, this.sps)) return this.lastSentSets.sps;
    const to = this.sps.map((nal) => {
      try {
        return raiseMaxNumRefFrames(nal, DEMOTION_REF_FRAMES);
      } catch {
        return nal; // the level allows no more frames: the flag and NAL type still tell
      }
    });
    if (!sameBuffers(to, this.sps)) this.repair({ kind: RepairKind.SPS_REF_FRAMES, track: 'video', atMs: 0, amount: DEMOTION_REF_FRAMES });
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
    const poc = this.poc.next(header, sps);
    const fps = sps.vui?.fps;
    const frameMs = fps && fps > 1 && fps <= 120 ? 1000 / fps : this.videoTimeline.frameDurationMs;
    const reorder = sps.vui?.maxNumReorderFrames ?? DEFAULT_REORDER_FRAMES;
    // x264 and MediaCodec count POC in steps of 2 per frame.
    const pts = this.idrDtsMs + (poc / 2 + reorder) * frameMs;
    return Math.max(0, Math.round(pts - dts));
  }

  // ---------------------------------------------------------------------------------- audio

  private onAudio(tag: FixerTag, replay = false): void {
    let body;
    try {
      body = parseAudioTagBody(tag.data);
    } catch {
      return;
    }
    this.audioCodec ??= body.codec;
    if (body.codec !== 'aac') {
      this.decide(TranscodeReason.UNSUPPORTED_AUDIO_CODEC, tag.timestampMs, `audio codec ${body.codec}`);
      return;
    }
    if (body.isSequenceHeader) {
      try {
        const config = parseAudioSpecificConfig(body.data);
        this.setAsc(Buffer.from(body.data), config.sampleRate, config.channelConfig, config.frameLengthSamples);
      } catch {
        // ignore a broken ASC; ADTS may provide one
      }
      const held = this.pendingAudio;
      this.pendingAudio = [];
      for (const t of held) this.onAudio(t, true);
      return;
    }
    if (!replay) this.stats.audioFramesIn++;
    let payloads: Buffer[] = [body.data];
    let adts = false;
    if (isAdts(body.data)) {
      try {
        const stripped = stripAdts(body.data);
        payloads = stripped.payloads;
        adts = true;
        this.repair({ kind: RepairKind.ADTS_STRIPPED, track: 'audio', atMs: tag.timestampMs, amount: body.data.length - payloads.reduce((a, p) => a + p.length, 0) });
        if (this.asc === null) {
          const asc = adtsToAudioSpecificConfig(stripped.header);
          const config = parseAudioSpecificConfig(asc);
          this.setAsc(asc, config.sampleRate, config.channelConfig, config.frameLengthSamples);
          this.repair({ kind: RepairKind.AAC_SEQUENCE_HEADER, track: 'audio', atMs: tag.timestampMs, amount: asc.length });
        }
      } catch {
        return;
      }
    }
    if (this.asc === null) {
      // No AudioSpecificConfig yet (a late AAC sequence header): hold the frames, within bounds.
      this.pendingAudio.push(tag);
      while (this.pendingAudio.length > this.options.maxPendingFrames) this.pendingAudio.shift();
      return;
    }
    this.audioFrames(tag, payloads, adts);
  }

  private audioFrames(tag: FixerTag, payloads: Buffer[], adts: boolean): void {
    const asc = this.asc as Buffer;
    let raw = tag.timestampMs;
    for (const payload of payloads) {
      let timelineMs: number;
      if (!this.audioTimeline.started) {
        this.startTrack(this.audioTimeline, raw, this.videoTimeline);
        timelineMs = this.audioTimeline.lastOut;
      } else {
        timelineMs = this.audioTimeline.next(raw, (r) => this.repair(r));
      }
      const clockMs = this.audioClock.next(timelineMs, this.frameSamples);
      if (Math.abs(clockMs - timelineMs) >= 1) {
        this.repair({ kind: RepairKind.AUDIO_CLOCK, track: 'audio', atMs: raw, amount: Math.round(clockMs - timelineMs) });
      }
      const ts = Math.round(clockMs);
      if (this.ascSent === null || !this.ascSent.equals(asc)) {
        this.interleaver.push('audio', ts, { tagType: TAG_AUDIO, timestampMs: ts, data: buildAacAudioTagBody({ packetType: 0, data: asc, stereo: this.audioStereo }) }, true);
        this.ascSent = asc;
      }
      const data = adts || payloads.length > 1 ? buildAacAudioTagBody({ packetType: 1, data: payload, stereo: this.audioStereo }) : tag.data;
      this.stats.audioFramesOut++;
      this.interleaver.push('audio', ts, { tagType: TAG_AUDIO, timestampMs: ts, data });
      raw = (raw + Math.round((this.frameSamples * 1000) / (this.audioSampleRate || 44100))) >>> 0;
    }
  }

  private setAsc(asc: Buffer, sampleRate: number, channels: number, frameSamples: number): void {
    this.asc = asc;
    this.audioSampleRate = sampleRate;
    this.audioStereo = channels !== 1;
    this.frameSamples = frameSamples;
    this.audioClock.setSampleRate(sampleRate);
    this.audioTimeline.setFrameDuration((frameSamples * 1000) / sampleRate);
    this.interleaver.setFrameDuration('audio', (frameSamples * 1000) / sampleRate);
  }
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
