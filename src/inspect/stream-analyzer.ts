/**
 * The analysis behind `rinse inspect`: a pure pass over FLV tags (from a file or from an
 * RTMP play session) that measures codecs, GOPs, timestamps, A/V order and drift, cadence,
 * framing and sequence headers, turns what is wrong into {@link Finding}s, and judges the
 * stream against Cloudflare's ingest rules (shared/cloudflare-ingest.md).
 *
 * Pure: no sockets, timers or logger. Live sources pass the arrival time with each tag.
 */
import { aacProfileName, parseAudioSpecificConfig } from '../flv/aac-config.js';
import { adtsToAudioSpecificConfig, isAdts, parseAdtsHeader } from '../flv/adts.js';
import { parseAvcConfig } from '../flv/avc-config.js';
import { metadataFields, parseAudioTagBody, parseScriptTagBody, parseVideoTagBody } from '../flv/flv-tag.js';
import { profileName, levelName, parseSps, type Sps } from '../flv/h264-sps.js';
import { ParameterSets } from '../flv/h264-slice.js';
import { nalType, NalType, splitNalUnits } from '../flv/nal-units.js';
import type { RepairSummary, TranscodeDecision } from '../fixer/repairs.js';
import { FINDING_RULES, FindingKind, type Finding, type Severity } from './findings.js';

export const TAG_AUDIO = 8;
export const TAG_VIDEO = 9;
export const TAG_SCRIPT = 18;

/** Cloudflare's keyframe interval bounds, in ms. */
const MIN_GOP_MS = 2000;
const MAX_GOP_MS = 10_000;
/** Combined bitrate Cloudflare recommends at least, in kbit/s. */
const MIN_BITRATE_KBPS = 2000;
/** A first timestamp above this is a start offset, in ms (encoders start within a frame or two of 0). */
const START_OFFSET_MS = 1000;
/** Timestamps within this of 2^32 followed by small ones are a wrap, in ms. */
const WRAP_WINDOW_MS = 60_000;
/** A backward step landing within this of 0 is a restart, not a stray backward timestamp, in ms. */
const RESTART_NEAR_ZERO_MS = 1000;
/** A forward step is a jump or gap when over max(this, JUMP_FRAMES frame intervals), in ms. */
const MIN_JUMP_MS = 1000;
const JUMP_FRAMES = 10;
/** Both tracks silent at least this long at the same time is a stall, in ms. */
const STALL_MS = 1000;
/** Audio timestamps off the sample clock by more than this fraction and this many ms is drift. */
const DRIFT_FRACTION = 0.005;
const DRIFT_MIN_MS = 30;
/** A video interval is irregular when off the median by more than this fraction (and IRREGULAR_MIN_MS). */
const IRREGULAR_FRACTION = 0.2;
const IRREGULAR_MIN_MS = 4;
/** The cadence is irregular when more than this share of intervals are. */
const IRREGULAR_SHARE = 0.1;
/** AAC frames are 1024 samples (960 in the rare 960-sample variant, taken from the ASC). */
const AAC_FRAME_SAMPLES = 1024;

export interface AnalyzerTag {
  tagType: number;
  /** FLV/RTMP timestamp, ms, 32-bit unsigned as sent. */
  timestampMs: number;
  data: Buffer;
  /** Arrival time in ms (live sources only), for stall detection. */
  arrivalMs?: number;
}

export interface PacketRow {
  type: 'audio' | 'video';
  dts: number;
  pts: number;
  keyframe: boolean;
}

export interface TrackTimestamps {
  count: number;
  firstMs: number | null;
  lastMs: number | null;
  backwards: number;
  repeats: number;
  jumps: number;
  restarts: number;
  wraps: number;
}

export interface InspectReport {
  source: string;
  tags: { audio: number; video: number; script: number; unparsed: number };
  durationMs: number;
  video: null | {
    codec: string;
    profile: string | null;
    level: string | null;
    width: number | null;
    height: number | null;
    fps: number | null;
    chromaFormat: number | null;
    bitDepth: number | null;
    frameMbsOnly: boolean | null;
    picOrderCntType: number | null;
    maxNumReorderFrames: number | null;
    frames: number;
    bFrames: boolean;
    bitrateKbps: number;
  };
  audio: null | {
    codec: string;
    profile: string | null;
    sampleRate: number | null;
    channels: number | null;
    frames: number;
    bitrateKbps: number;
  };
  metadata: Record<string, number | string | boolean> | null;
  metadataMismatches: string[];
  gop: { keyframes: number; minS: number | null; medianS: number | null; maxS: number | null; allIntra: boolean; flagMismatches: number };
  timestamps: { video: TrackTimestamps; audio: TrackTimestamps };
  avSync: { outOfOrder: number; maxBackstepMs: number; driftMs: number | null; driftPercent: number | null; startSkewMs: number | null };
  cadence: { medianIntervalMs: number | null; irregularShare: number | null };
  framing: { avcc: number; annexb: number; mixed: number; adts: number };
  sequenceHeaders: {
    video: { count: number; beforeFirstFrame: boolean; inBandOnly: boolean; changes: number };
    audio: { count: number; beforeFirstFrame: boolean };
  };
  bitrateKbps: number;
  findings: Finding[];
  verdict: { accept: boolean; reasons: Array<{ kind: FindingKind; severity: Severity; rule: string; detail: string }> };
  /** What `rinse fix` would repair (filled in by the inspection, which runs the fixer too). */
  repairs?: RepairSummary;
  /** Set when a remux cannot make the stream acceptable. */
  needsTranscode?: TranscodeDecision | null;
  packets?: PacketRow[];
}

interface VideoFrame {
  dts: number;
  cts: number;
  flagKey: boolean;
  idr: boolean | null;
  hasB: boolean;
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

const round = (n: number, digits = 3): number => Math.round(n * 10 ** digits) / 10 ** digits;

export class StreamAnalyzer {
  private readonly source: string;
  private readonly keepPackets: boolean;
  private readonly counts = { audio: 0, video: 0, script: 0, unparsed: 0 };
  private readonly findings = new Map<FindingKind, Finding>();
  private readonly packets: PacketRow[] = [];
  // Video state
  private videoCodec: string | null = null;
  private nalLengthSize = 4;
  private readonly paramSets = new ParameterSets();
  private sps: Sps | null = null;
  private lastAvcConfig: Buffer | null = null;
  private videoHeaders = 0;
  private videoHeaderChanges = 0;
  private videoHeaderBeforeFrame = false;
  private inBandSps = false;
  private readonly videoFrames: VideoFrame[] = [];
  private videoBytes = 0;
  private readonly videoTs: number[] = [];
  // Audio state
  private audioCodec: string | null = null;
  private audioProfile: string | null = null;
  private sampleRate: number | null = null;
  private channels: number | null = null;
  private frameSamples = AAC_FRAME_SAMPLES;
  private audioHeaders = 0;
  private audioHeaderBeforeFrame = false;
  private audioFrames = 0;
  private audioBytes = 0;
  private readonly audioTs: number[] = [];
  // Cross-track state
  private readonly framing = { avcc: 0, annexb: 0, mixed: 0, adts: 0 };
  private metadata: Record<string, number | string | boolean> | null = null;
  private lastTs: { audio: number | null; video: number | null } = { audio: null, video: null };
  private outOfOrder = 0;
  private maxBackstepMs = 0;
  private firstOutOfOrderMs: number | null = null;
  private lastArrivalMs: number | null = null;
  private liveStalls = 0;
  private firstLiveStallMs: number | null = null;

  constructor(source: string, options: { keepPackets?: boolean } = {}) {
    this.source = source;
    this.keepPackets = options.keepPackets ?? false;
  }

  push(tag: AnalyzerTag): void {
    if (tag.arrivalMs !== undefined) {
      if (this.lastArrivalMs !== null && tag.arrivalMs - this.lastArrivalMs >= STALL_MS) {
        this.liveStalls++;
        this.firstLiveStallMs ??= tag.timestampMs;
      }
      this.lastArrivalMs = tag.arrivalMs;
    }
    try {
      if (tag.tagType === TAG_VIDEO) this.onVideo(tag);
      else if (tag.tagType === TAG_AUDIO) this.onAudio(tag);
      else if (tag.tagType === TAG_SCRIPT) this.onScript(tag);
    } catch {
      this.counts.unparsed++;
    }
  }

  private crossTrack(kind: 'audio' | 'video', ts: number): void {
    const other = kind === 'audio' ? this.lastTs.video : this.lastTs.audio;
    if (other !== null && ts < other) {
      this.outOfOrder++;
      this.maxBackstepMs = Math.max(this.maxBackstepMs, other - ts);
      this.firstOutOfOrderMs ??= ts;
    }
    this.lastTs[kind] = ts;
  }

  private onScript(tag: AnalyzerTag): void {
    this.counts.script++;
    const body = parseScriptTagBody(tag.data);
    if (body.name === 'onMetaData' && this.metadata === null) this.metadata = metadataFields(body.value);
  }

  private onVideo(tag: AnalyzerTag): void {
    this.counts.video++;
    const body = parseVideoTagBody(tag.data);
    this.videoCodec ??= body.codec;
    if (body.packetKind === 'sequence-header') {
      this.videoHeaders++;
      if (this.videoFrames.length === 0) this.videoHeaderBeforeFrame = true;
      if (body.codec === 'avc' || body.codec === 'avc1') {
        const config = parseAvcConfig(body.data);
        this.nalLengthSize = config.nalLengthSize;
        if (this.lastAvcConfig !== null && !this.lastAvcConfig.equals(body.data)) this.videoHeaderChanges++;
        this.lastAvcConfig = Buffer.from(body.data);
        for (const s of config.sps) {
          this.paramSets.addSps(s);
          this.sps ??= parseSps(s);
        }
        for (const p of config.pps) this.paramSets.addPps(p);
      }
      return;
    }
    if (body.packetKind !== 'coded-frames') return;
    this.videoBytes += tag.data.length;
    this.videoTs.push(tag.timestampMs);
    this.crossTrack('video', tag.timestampMs);
    const frame: VideoFrame = { dts: tag.timestampMs, cts: body.compositionTimeMs, flagKey: body.frameType === 1, idr: null, hasB: false };
    if (body.codec === 'avc' || body.codec === 'avc1') this.inspectAvcFrame(body.data, frame);
    this.videoFrames.push(frame);
    if (this.keepPackets) {
      this.packets.push({ type: 'video', dts: tag.timestampMs, pts: tag.timestampMs + body.compositionTimeMs, keyframe: frame.flagKey });
    }
  }

  private inspectAvcFrame(data: Buffer, frame: VideoFrame): void {
    const { framing, nals } = splitNalUnits(data, this.nalLengthSize as 1 | 2 | 4);
    this.framing[framing as 'avcc' | 'annexb' | 'mixed']++;
    let idr = false;
    let sliceSeen = false;
    for (const nal of nals) {
      const type = nalType(nal);
      if (type === NalType.SPS) {
        this.inBandSps = true;
        this.paramSets.addSps(nal);
        this.sps ??= parseSps(nal);
      } else if (type === NalType.PPS) {
        this.paramSets.addPps(nal);
      } else if (type === NalType.IDR || type === NalType.SLICE) {
        if (type === NalType.IDR) idr = true;
        if (!sliceSeen) {
          sliceSeen = true;
          try {
            frame.hasB = this.paramSets.sliceHeader(nal).sliceKind === 'B';
          } catch {
            // Parameter sets not known yet (late sequence header): the slice type stays unknown.
          }
        }
      }
    }
    frame.idr = idr;
  }

  private onAudio(tag: AnalyzerTag): void {
    this.counts.audio++;
    const body = parseAudioTagBody(tag.data);
    this.audioCodec ??= body.codec;
    if (body.isSequenceHeader) {
      this.audioHeaders++;
      if (this.audioFrames === 0) this.audioHeaderBeforeFrame = true;
      const asc = parseAudioSpecificConfig(body.data);
      this.sampleRate ??= asc.sampleRate;
      this.channels ??= asc.channelConfig;
      this.frameSamples = asc.frameLengthSamples;
      this.audioProfile ??= aacProfileName(asc.objectType, asc.extensionObjectType);
      return;
    }
    this.audioFrames++;
    this.audioBytes += tag.data.length;
    this.audioTs.push(tag.timestampMs);
    this.crossTrack('audio', tag.timestampMs);
    if (body.codec === 'aac' && isAdts(body.data)) {
      this.framing.adts++;
      if (this.sampleRate === null) {
        const h = parseAdtsHeader(body.data);
        const asc = parseAudioSpecificConfig(adtsToAudioSpecificConfig(h));
        this.sampleRate = asc.sampleRate;
        this.channels = asc.channelConfig;
        this.audioProfile ??= aacProfileName(asc.objectType, asc.extensionObjectType);
      }
    }
    if (this.keepPackets) this.packets.push({ type: 'audio', dts: tag.timestampMs, pts: tag.timestampMs, keyframe: true });
  }

  private add(kind: FindingKind, track: Finding['track'], count: number, firstAtMs: number | null, detail: string): void {
    if (count <= 0) return;
    const existing = this.findings.get(kind);
    if (existing) {
      existing.count += count;
      return;
    }
    this.findings.set(kind, { kind, track, count, firstAtMs, detail });
  }

  /** Analyse one track's timestamps in arrival order. Returns stats and forward gaps (start ms, size ms). */
  private timeline(track: 'audio' | 'video', ts: number[]): { stats: TrackTimestamps; gaps: Array<[number, number]>; intervals: number[] } {
    const stats: TrackTimestamps = { count: ts.length, firstMs: ts[0] ?? null, lastMs: ts[ts.length - 1] ?? null, backwards: 0, repeats: 0, jumps: 0, restarts: 0, wraps: 0 };
    const gaps: Array<[number, number]> = [];
    const intervals: number[] = [];
    const positive: number[] = [];
    for (let i = 1; i < ts.length; i++) {
      const d = (ts[i] as number) - (ts[i - 1] as number);
      if (d > 0) positive.push(d);
    }
    const frameMs = median(positive) ?? 33;
    const jumpMs = Math.max(MIN_JUMP_MS, JUMP_FRAMES * frameMs);
    const first: Partial<Record<FindingKind, number>> = {};
    for (let i = 1; i < ts.length; i++) {
      const prev = ts[i - 1] as number;
      const cur = ts[i] as number;
      const d = cur - prev;
      if (prev >= 0x100000000 - WRAP_WINDOW_MS && cur < WRAP_WINDOW_MS && cur + 0x100000000 - prev < jumpMs) {
        stats.wraps++;
        first[FindingKind.TS_WRAP] ??= prev;
        intervals.push(cur + 0x100000000 - prev);
      } else if (d === 0) {
        stats.repeats++;
        first[FindingKind.TS_REPEAT] ??= cur;
      } else if (d < 0) {
        if (cur < RESTART_NEAR_ZERO_MS && -d > RESTART_NEAR_ZERO_MS) {
          stats.restarts++;
          first[FindingKind.TS_RESTART] ??= prev;
        } else {
          stats.backwards++;
          first[FindingKind.TS_BACKWARDS] ??= cur;
        }
      } else if (d > jumpMs) {
        gaps.push([prev, d]);
      } else {
        intervals.push(d);
      }
    }
    const label = track === 'video' ? 'video' : 'audio';
    this.add(FindingKind.TS_WRAP, track, stats.wraps, first[FindingKind.TS_WRAP] ?? null, `${label} timestamps wrapped past 2^32 ms ${stats.wraps}x`);
    this.add(FindingKind.TS_REPEAT, track, stats.repeats, first[FindingKind.TS_REPEAT] ?? null, `${label} timestamp repeated ${stats.repeats}x`);
    this.add(FindingKind.TS_RESTART, track, stats.restarts, first[FindingKind.TS_RESTART] ?? null, `${label} timestamps restarted near 0 ${stats.restarts}x`);
    this.add(FindingKind.TS_BACKWARDS, track, stats.backwards, first[FindingKind.TS_BACKWARDS] ?? null, `${label} timestamp went backwards ${stats.backwards}x`);
    return { stats, gaps, intervals };
  }

  finish(): InspectReport {
    const video = this.timeline('video', this.videoTs);
    const audio = this.timeline('audio', this.audioTs);

    // Forward gaps: in both tracks at once -> a stall; in one track only -> a jump.
    const overlaps = (g: [number, number], others: Array<[number, number]>): boolean =>
      others.some(([at, size]) => at < g[0] + g[1] && g[0] < at + size && Math.abs(size - g[1]) < Math.max(500, 0.5 * g[1]));
    for (const [track, mine, others] of [['video', video.gaps, audio.gaps], ['audio', audio.gaps, video.gaps]] as const) {
      for (const g of mine) {
        if (overlaps(g, others)) {
          if (track === 'video' && g[1] >= STALL_MS) this.add(FindingKind.STALL, 'both', 1, g[0], `both tracks silent for ${g[1]} ms`);
        } else {
          video.stats.jumps += track === 'video' ? 1 : 0;
          audio.stats.jumps += track === 'audio' ? 1 : 0;
          this.add(FindingKind.TS_JUMP, track, 1, g[0], `${track} timestamps jumped ${g[1]} ms forward alone`);
        }
      }
    }
    if (this.liveStalls > 0) this.add(FindingKind.STALL, 'both', this.liveStalls, this.firstLiveStallMs, `no media for >= ${STALL_MS} ms on the live connection ${this.liveStalls}x`);

    const firstTs = [video.stats.firstMs, audio.stats.firstMs].filter((t): t is number => t !== null);
    const startMs = firstTs.length ? Math.min(...firstTs) : null;
    if (startMs !== null && startMs > START_OFFSET_MS) this.add(FindingKind.TS_START_OFFSET, 'both', 1, startMs, `first timestamp is ${startMs} ms`);
    if (this.outOfOrder > 0) {
      this.add(FindingKind.AV_OUT_OF_ORDER, 'both', this.outOfOrder, this.firstOutOfOrderMs, `${this.outOfOrder} tags older than the other track's last (up to ${this.maxBackstepMs} ms)`);
    }

    // Durations: sum of regular intervals (gaps and steps back excluded).
    const spanOf = (t: { intervals: number[]; stats: TrackTimestamps }, frameMs: number): number =>
      t.intervals.reduce((a, b) => a + b, 0) + (t.stats.count > 0 ? frameMs : 0);
    const videoFrameMs = median(video.intervals) ?? 0;
    const audioFrameMs = this.sampleRate ? (this.frameSamples * 1000) / this.sampleRate : (median(audio.intervals) ?? 0);
    const videoSpanMs = spanOf(video, videoFrameMs);
    const audioSpanMs = spanOf(audio, audioFrameMs);
    const durationMs = Math.max(videoSpanMs, audioSpanMs);

    // Drift: audio timestamps against the audio sample clock over the regular part.
    let driftMs: number | null = null;
    let driftPercent: number | null = null;
    if (this.sampleRate && audio.intervals.length > 20) {
      const stamped = audio.intervals.reduce((a, b) => a + b, 0);
      const sampled = (audio.intervals.length * this.frameSamples * 1000) / this.sampleRate;
      driftMs = round(stamped - sampled, 1);
      driftPercent = round((100 * (stamped - sampled)) / sampled, 3);
      if (Math.abs(driftMs) > DRIFT_MIN_MS && Math.abs(stamped - sampled) / sampled > DRIFT_FRACTION) {
        this.add(FindingKind.AV_DRIFT, 'audio', 1, null, `audio timestamps run ${driftPercent}% (${driftMs} ms) off the sample clock`);
      }
    }

    // Cadence.
    let irregularShare: number | null = null;
    if (video.intervals.length > 10 && videoFrameMs > 0) {
      const off = video.intervals.filter((d) => Math.abs(d - videoFrameMs) > Math.max(IRREGULAR_MIN_MS, IRREGULAR_FRACTION * videoFrameMs)).length;
      irregularShare = round(off / video.intervals.length);
      if (irregularShare > IRREGULAR_SHARE) {
        this.add(FindingKind.IRREGULAR_CADENCE, 'video', off, null, `${Math.round(irregularShare * 100)}% of frame intervals off the ${videoFrameMs} ms median`);
      }
    }

    // GOP as the ingest sees it: the flagged keyframes. NAL types tell whether the flags lie:
    // a flagged frame without an IDR is a seek point that does not decode; an IDR left
    // unflagged is harmless unless it was due (the last flagged keyframe >= 2 s before it).
    const frames = this.videoFrames;
    const keyTimes = frames.filter((f) => f.flagKey).map((f) => f.dts);
    const gops: number[] = [];
    for (let i = 1; i < keyTimes.length; i++) gops.push((keyTimes[i] as number) - (keyTimes[i - 1] as number));
    let flagMismatches = 0;
    let firstMismatchMs: number | null = null;
    let lastFlagged: number | null = null;
    for (const f of frames) {
      const lying = f.idr !== null && ((f.flagKey && !f.idr) || (!f.flagKey && f.idr && (lastFlagged === null || f.dts - lastFlagged >= MIN_GOP_MS)));
      if (lying) {
        flagMismatches++;
        firstMismatchMs ??= f.dts;
      }
      if (f.flagKey) lastFlagged = f.dts;
    }
    const allIdr = frames.length > 1 && frames.every((f) => (f.idr ?? f.flagKey));
    const allIntra = allIdr && (gops.length === 0 || (median(gops) as number) < MIN_GOP_MS);
    const gopS = gops.map((g) => g / 1000);
    if (flagMismatches > 0) this.add(FindingKind.KEYFRAME_FLAG_MISMATCH, 'video', flagMismatches, firstMismatchMs, `${flagMismatches} frames whose keyframe flag disagrees with their NAL types`);
    if (allIntra) {
      this.add(FindingKind.ALL_INTRA, 'video', frames.length, frames[0]?.dts ?? null, `all ${frames.length} frames are IDR keyframes`);
    } else if (gops.some((g) => g < MIN_GOP_MS)) {
      this.add(FindingKind.GOP_TOO_SHORT, 'video', gops.filter((g) => g < MIN_GOP_MS).length, null, `keyframes as close as ${Math.min(...gops) / 1000} s`);
    }
    const tailMs = frames.length && keyTimes.length ? (frames[frames.length - 1] as VideoFrame).dts - (keyTimes[keyTimes.length - 1] as number) : 0;
    if (gops.some((g) => g > MAX_GOP_MS) || tailMs > MAX_GOP_MS || (frames.length > 0 && keyTimes.length === 0)) {
      this.add(FindingKind.GOP_TOO_LONG, 'video', 1, null, `keyframes up to ${Math.max(tailMs, ...gops) / 1000} s apart`);
    }

    // Framing.
    if (this.framing.annexb > 0) this.add(FindingKind.ANNEXB_FRAMING, 'video', this.framing.annexb, null, `${this.framing.annexb} frames in Annex-B framing`);
    if (this.framing.mixed > 0) this.add(FindingKind.MIXED_FRAMING, 'video', this.framing.mixed, null, `${this.framing.mixed} frames with start codes under one length prefix`);
    if (this.framing.adts > 0) this.add(FindingKind.ADTS_AUDIO, 'audio', this.framing.adts, null, `${this.framing.adts} AAC frames with ADTS headers`);

    // Sequence headers.
    const avc = this.videoCodec === 'avc' || this.videoCodec === 'avc1';
    if (avc && frames.length > 0) {
      if (this.videoHeaders === 0) {
        this.add(FindingKind.AVC_SEQUENCE_HEADER_MISSING, 'video', 1, null, this.inBandSps ? 'no AVC sequence header: SPS/PPS only in band' : 'no AVC sequence header and no SPS/PPS');
      } else if (!this.videoHeaderBeforeFrame) {
        this.add(FindingKind.AVC_SEQUENCE_HEADER_LATE, 'video', 1, null, 'AVC sequence header after the first frames');
      }
      if (this.videoHeaderChanges > 0) this.add(FindingKind.AVC_SEQUENCE_HEADER_CHANGED, 'video', this.videoHeaderChanges, null, `AVC sequence header changed ${this.videoHeaderChanges}x`);
    }
    if (this.audioCodec === 'aac' && this.audioFrames > 0 && !this.audioHeaderBeforeFrame) {
      this.add(FindingKind.AAC_SEQUENCE_HEADER_MISSING, 'audio', 1, null, this.audioHeaders === 0 ? 'no AAC sequence header' : 'AAC sequence header after the first frames');
    }

    // B-frames whose display order is lost.
    const bFrames = frames.some((f) => f.hasB);
    if (bFrames && frames.every((f) => f.cts === 0)) this.add(FindingKind.BFRAMES_NO_CTS, 'video', frames.filter((f) => f.hasB).length, null, 'B slices while every composition time is 0');

    // Codecs.
    if (this.videoCodec !== null && !avc) this.add(FindingKind.UNSUPPORTED_VIDEO_CODEC, 'video', 1, null, `video codec ${this.videoCodec}`);
    if (this.audioCodec !== null && this.audioCodec !== 'aac') this.add(FindingKind.UNSUPPORTED_AUDIO_CODEC, 'audio', 1, null, `audio codec ${this.audioCodec}`);

    // Bitrate.
    const seconds = durationMs / 1000;
    const videoKbps = seconds > 0 ? (this.videoBytes * 8) / seconds / 1000 : 0;
    const audioKbps = seconds > 0 ? (this.audioBytes * 8) / seconds / 1000 : 0;
    const bitrateKbps = Math.round(videoKbps + audioKbps);
    if (seconds >= 1 && bitrateKbps < MIN_BITRATE_KBPS) this.add(FindingKind.LOW_BITRATE, 'both', 1, null, `${bitrateKbps} kbit/s in all`);

    // Metadata against the bitstream.
    const mismatches: string[] = [];
    if (this.metadata && this.sps) {
      const m = this.metadata;
      if (typeof m.width === 'number' && m.width !== this.sps.width) mismatches.push(`width ${m.width} declared, ${this.sps.width} in the SPS`);
      if (typeof m.height === 'number' && m.height !== this.sps.height) mismatches.push(`height ${m.height} declared, ${this.sps.height} in the SPS`);
      const spsFps = this.sps.vui?.fps ?? null;
      if (typeof m.framerate === 'number' && spsFps !== null && Math.abs(m.framerate - spsFps) > 0.5) mismatches.push(`framerate ${m.framerate} declared, ${round(spsFps, 2)} in the SPS`);
    }
    if (this.metadata && this.sampleRate && typeof this.metadata.audiosamplerate === 'number' && this.metadata.audiosamplerate !== this.sampleRate) {
      mismatches.push(`audiosamplerate ${this.metadata.audiosamplerate} declared, ${this.sampleRate} in the AudioSpecificConfig`);
    }
    if (mismatches.length) this.add(FindingKind.METADATA_MISMATCH, 'both', mismatches.length, null, mismatches.join('; '));

    const findings = [...this.findings.values()];
    const reasons = findings.map((f) => ({ kind: f.kind, severity: FINDING_RULES[f.kind].severity, rule: FINDING_RULES[f.kind].rule, detail: f.detail }));
    const sps = this.sps;
    const report: InspectReport = {
      source: this.source,
      tags: { ...this.counts },
      durationMs: Math.round(durationMs),
      video:
        this.videoCodec === null
          ? null
          : {
              codec: avc ? 'h264' : this.videoCodec,
              profile: sps ? profileName(sps.profileIdc, sps.constraintFlags) : null,
              level: sps ? levelName(sps.levelIdc) : null,
              width: sps?.width ?? null,
              height: sps?.height ?? null,
              fps: sps?.vui?.fps ?? null,
              chromaFormat: sps?.chromaFormatIdc ?? null,
              bitDepth: sps?.bitDepthLuma ?? null,
              frameMbsOnly: sps?.frameMbsOnly ?? null,
              picOrderCntType: sps?.picOrderCntType ?? null,
              maxNumReorderFrames: sps?.vui?.maxNumReorderFrames ?? null,
              frames: frames.length,
              bFrames,
              bitrateKbps: Math.round(videoKbps),
            },
      audio:
        this.audioCodec === null
          ? null
          : { codec: this.audioCodec, profile: this.audioProfile, sampleRate: this.sampleRate, channels: this.channels, frames: this.audioFrames, bitrateKbps: Math.round(audioKbps) },
      metadata: this.metadata,
      metadataMismatches: mismatches,
      gop: {
        keyframes: keyTimes.length,
        minS: gopS.length ? Math.min(...gopS) : null,
        medianS: median(gopS),
        maxS: gopS.length ? Math.max(...gopS) : null,
        allIntra,
        flagMismatches,
      },
      timestamps: { video: video.stats, audio: audio.stats },
      avSync: {
        outOfOrder: this.outOfOrder,
        maxBackstepMs: this.maxBackstepMs,
        driftMs,
        driftPercent,
        startSkewMs: video.stats.firstMs !== null && audio.stats.firstMs !== null ? audio.stats.firstMs - video.stats.firstMs : null,
      },
      cadence: { medianIntervalMs: videoFrameMs || null, irregularShare },
      framing: { ...this.framing },
      sequenceHeaders: {
        video: { count: this.videoHeaders, beforeFirstFrame: this.videoHeaderBeforeFrame, inBandOnly: this.videoHeaders === 0 && this.inBandSps, changes: this.videoHeaderChanges },
        audio: { count: this.audioHeaders, beforeFirstFrame: this.audioHeaderBeforeFrame },
      },
      bitrateKbps,
      findings,
      verdict: { accept: !reasons.some((r) => r.severity === 'reject'), reasons },
    };
    if (this.keepPackets) report.packets = this.packets;
    return report;
  }
}
