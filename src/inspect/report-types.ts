/**
 * The shapes `rinse inspect` works with: the tags it is fed, what the analyzer collects from
 * them (handed to the rule checks), and the report it returns.
 */
import type { NalFraming } from '../flv/nal-units.js';
import type { Sps } from '../flv/h264-sps.js';
import type { RepairKind, RepairSummary, TranscodeDecision } from '../fixer/repairs.js';
import type { ContractRule } from '../media/output-contract.js';
import type { Cause, RuleFinding, Severity } from './findings.js';

export interface AnalyzerTag {
  tagType: number;
  /** FLV/RTMP timestamp, ms, 32-bit unsigned as sent. */
  timestampMs: number;
  data: Buffer;
  /** Arrival time in ms (live sources only), for stall detection. */
  arrivalMs?: number;
  /** Files only: the PreviousTagSize that followed the tag (-1: the file ended right after it). */
  previousTagSize?: number;
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

/** One coded video frame as collected. */
export interface VideoFrame {
  dts: number;
  cts: number;
  flagKey: boolean;
  /** Holds an IDR (null: the NAL units could not be read, e.g. not AVC). */
  idr: boolean | null;
  hasB: boolean;
  /** Picture order count (null where unknown: slice header unreadable, POC type 1). */
  poc: number | null;
  framing: NalFraming | null;
}

export interface AudioFrame {
  dts: number;
  tagByte: number;
  adts: boolean;
}

/** A sequence header tag, and how many frames of its track came before it. */
export interface HeaderTag {
  dts: number;
  tagByte: number;
  /** AVC: the SPS and PPS joined; AAC: the AudioSpecificConfig. */
  params: Buffer;
  framesBefore: number;
}

/** Everything the analyzer collected, for the rule checks. */
export interface Collected {
  videoCodec: string | null;
  audioCodec: string | null;
  sps: Sps | null;
  nalLengthSizes: Set<number>;
  inBandSps: boolean;
  videoFrames: VideoFrame[];
  videoHeaders: HeaderTag[];
  audioFrames: AudioFrame[];
  audioHeaders: HeaderTag[];
  /** AAC tags (headers and frames) whose first byte is not the contract's, and the first such. */
  aacTagBytes: { wrong: number; firstAtMs: number | null; seen: Set<number> };
  sampleRate: number | null;
  frameSamples: number;
  parse: { errors: number; firstAtMs: number | null; details: string[] };
  /** Payloads that tile neither as AVCC nor as Annex B. */
  unsplittable: { count: number; firstAtMs: number | null };
  /** Arrival order: the largest |last audio DTS - last video DTS| and how often it was over the limit. */
  skew: { maxMs: number; over: number; firstAtMs: number | null; outOfOrder: number; maxBackstepMs: number };
  liveStalls: { count: number; firstAtMs: number | null };
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
  gop: {
    keyframes: number;
    minS: number | null;
    medianS: number | null;
    maxS: number | null;
    allIntra: boolean;
    flagMismatches: number;
  };
  timestamps: { video: TrackTimestamps; audio: TrackTimestamps };
  avSync: {
    outOfOrder: number;
    maxBackstepMs: number;
    /** In arrival order, the largest |last audio DTS - last video DTS|. */
    maxSkewMs: number;
    driftMs: number | null;
    driftPercent: number | null;
    startSkewMs: number | null;
  };
  /** p95DeviationMs: p95 of |interval - median of its neighbours| (the cadence rule's measure). */
  cadence: { medianIntervalMs: number | null; irregularShare: number | null; p95DeviationMs: number | null };
  framing: { avcc: number; annexb: number; mixed: number; adts: number };
  sequenceHeaders: {
    video: { count: number; beforeFirstFrame: boolean; inBandOnly: boolean; changes: number };
    audio: { count: number; beforeFirstFrame: boolean };
  };
  bitrateKbps: number;
  /** One per broken contract rule, in contract order. */
  findings: RuleFinding[];
  /** Information that breaks no rule (a low bitrate, metadata the bitstream contradicts). */
  notes: Cause[];
  verdict: {
    /** No rule broken: rinse would send this stream untouched. */
    clean: boolean;
    /** No rule broken that Cloudflare's documented MUSTs reject. */
    accept: boolean;
    broken: ContractRule[];
    /** Rules one input cannot show (they need the output, a decoder or the wall clock). */
    notJudged: ContractRule[];
    reasons: Array<{
      kind: ContractRule;
      rule: ContractRule;
      severity: Severity;
      cloudflareMust: boolean;
      detail: string;
    }>;
  };
  /** What `rinse fix` would repair (filled in by the inspection, which runs the fixer too). */
  repairs?: RepairSummary;
  /** Set when a remux cannot make the stream acceptable. */
  needsTranscode?: TranscodeDecision | null;
  packets?: PacketRow[];
  /** The whole input on a stream-time axis (`rinse inspect --html`; only when asked). */
  timeline?: InspectTimeline;
}

/** A repair the dry-run fixer made, coalesced by kind within one second of stream time. */
export interface TimelineRepairMark {
  atS: number;
  kind: RepairKind;
  track: 'audio' | 'video' | 'both';
  count: number;
  /** The largest amount (ms moved, bytes or units, as the repair counts). */
  maxAmount: number;
}

/**
 * Stream time, in s from the first audio or video tag (wrap-aware: see report-timeline.ts).
 * Bounded: per-second figures and keyframes, never per-frame rows.
 */
export interface InspectTimeline {
  /** The first audio or video tag's DTS, ms as sent: stream time 0. */
  originMs: number;
  /** One entry per second with tags, ascending; a gap gets zero seconds at its edges. */
  perSecond: { atS: number[]; videoKbps: number[]; audioKbps: number[]; fps: number[] };
  /** Flagged video keyframes in arrival order; intervalS since the one before (null: the first). */
  keyframes: Array<{ atS: number; intervalS: number | null }>;
  /** Last audio DTS - last video DTS in arrival order, one sample per second of stream time. */
  skew: Array<{ atS: number; skewMs: number }>;
  marks: TimelineRepairMark[];
  /** What the caps left out (keyframes, skew samples, seconds, repairs not marked). */
  dropped: { seconds: number; keyframes: number; skew: number; repairs: number };
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export const round = (n: number, digits = 3): number => Math.round(n * 10 ** digits) / 10 ** digits;
