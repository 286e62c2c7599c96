/**
 * What `rinse inspect` reports: one {@link RuleFinding} per broken output-contract rule
 * (src/media/output-contract.ts), each carrying the measured pathologies behind it as
 * {@link Cause}s. Fixture manifests name their pathologies with the same FindingKind ids.
 */
import { CONTRACT, ContractRule } from '../media/output-contract.js';

export const FindingKind = {
  /** A track's timestamp went backwards by less than a restart. */
  TS_BACKWARDS: 'ts-backwards',
  /** A track repeated its previous timestamp. */
  TS_REPEAT: 'ts-repeat',
  /** One track jumped forward far beyond its frame interval while the other did not. */
  TS_JUMP: 'ts-jump',
  /** Timestamps restarted near 0 (publisher reconnect, encoder restart). */
  TS_RESTART: 'ts-restart',
  /** Timestamps crossed 2^32 ms and wrapped to small values. */
  TS_WRAP: 'ts-wrap',
  /** The first timestamp is far from 0. */
  TS_START_OFFSET: 'ts-start-offset',
  /** Interleaved timestamps go backwards across tracks (one track runs ahead in send order). */
  AV_OUT_OF_ORDER: 'av-out-of-order',
  /** Audio timestamps drift from the audio sample clock (two clocks). */
  AV_DRIFT: 'av-drift',
  /** Video frame intervals are irregular (variable frame rate). */
  IRREGULAR_CADENCE: 'irregular-cadence',
  /** Both tracks stop for a second or more, then continue (a stall or gap). */
  STALL: 'stall',
  /** Every video frame is a keyframe. */
  ALL_INTRA: 'all-intra',
  /** Keyframes closer than 2 s (not every frame). */
  GOP_TOO_SHORT: 'gop-too-short',
  /** Keyframes further apart than 10 s, or only one. */
  GOP_TOO_LONG: 'gop-too-long',
  /** FLV keyframe flags disagree with the NAL unit types. */
  KEYFRAME_FLAG_MISMATCH: 'keyframe-flag-mismatch',
  /** Video payloads in Annex-B (start codes) instead of length-prefixed AVCC. */
  ANNEXB_FRAMING: 'annexb-framing',
  /** Several NAL units under one length prefix, separated by start codes. */
  MIXED_FRAMING: 'mixed-framing',
  /** AAC frames carry ADTS headers. */
  ADTS_AUDIO: 'adts-audio',
  /** No AVC sequence header at all (SPS/PPS only in band, or nowhere). */
  AVC_SEQUENCE_HEADER_MISSING: 'avc-sequence-header-missing',
  /** The AVC sequence header arrives after frames it describes. */
  AVC_SEQUENCE_HEADER_LATE: 'avc-sequence-header-late',
  /** The SPS/PPS change mid-stream (for example a resolution change). */
  AVC_SEQUENCE_HEADER_CHANGED: 'avc-sequence-header-changed',
  /** AAC audio without an AAC sequence header before it. */
  AAC_SEQUENCE_HEADER_MISSING: 'aac-sequence-header-missing',
  /** B slices while every composition time is 0 (display order lost). */
  BFRAMES_NO_CTS: 'bframes-no-cts',
  /** A video codec Cloudflare refuses over RTMPS (HEVC, AV1, ... via enhanced RTMP). */
  UNSUPPORTED_VIDEO_CODEC: 'unsupported-video-codec',
  /** An audio codec other than AAC. */
  UNSUPPORTED_AUDIO_CODEC: 'unsupported-audio-codec',
  /** Combined bitrate under 2 Mbps. */
  LOW_BITRATE: 'low-bitrate',
  /** onMetaData declares parameters that the SPS/ASC contradict. */
  METADATA_MISMATCH: 'metadata-mismatch',
  /** The FLV does not parse: a wrong PreviousTagSize, a tag body that does not parse, bytes after the last tag. */
  FLV_PARSE: 'flv-parse',
  /** Fewer frames in a track than there is anything to judge. */
  TOO_FEW_FRAMES: 'too-few-frames',
  /** AVCC length prefixes of other than 4 bytes, or a payload that tiles neither as AVCC nor as Annex B. */
  BAD_NAL_LENGTHS: 'bad-nal-lengths',
  /** An AVC sequence header again with the same parameter sets. */
  AVC_SEQUENCE_HEADER_REPEATED: 'avc-sequence-header-repeated',
  /** A changed AVC sequence header that the next frame, not an IDR, cannot start from. */
  AVC_SEQUENCE_HEADER_NOT_AT_IDR: 'avc-sequence-header-not-at-idr',
  /** AAC sequence headers that differ from each other. */
  AAC_SEQUENCE_HEADER_CHANGED: 'aac-sequence-header-changed',
  /** An AAC tag whose first byte is not the FLV spec's. */
  AAC_TAG_BYTE: 'aac-tag-byte',
  /** The first video frame is not a flagged IDR. */
  FIRST_FRAME_NOT_IDR: 'first-frame-not-idr',
  /** In arrival order, the last audio and video timestamps too far apart. */
  AV_SKEW: 'av-skew',
  /** A negative composition time. */
  NEGATIVE_CTS: 'negative-cts',
  /** Presentation order (DTS + CTS) disagrees with picture order count order. */
  POC_ORDER: 'poc-order',
} as const;

export type FindingKind = (typeof FindingKind)[keyof typeof FindingKind];

/** 'reject': Cloudflare's documented MUSTs refuse it; 'repair': a contract breach rinse repairs (or transcodes). */
export type Severity = 'reject' | 'repair';

/** One measured pathology (a cause of a broken rule, or a note). */
export interface Cause {
  kind: FindingKind;
  track: 'audio' | 'video' | 'both';
  /** How many times it happened. */
  count: number;
  /** Where it first happened (stream timestamp in ms, as sent). */
  firstAtMs: number | null;
  /** One line for a person. */
  detail: string;
}

/** One broken contract rule. */
export interface RuleFinding {
  rule: ContractRule;
  /** The same id as `rule`, under the name callers of the older report read. */
  kind: ContractRule;
  cloudflareMust: boolean;
  severity: Severity;
  /** How many times it is broken (tags, intervals or headers, as the rule counts). */
  count: number;
  /** Where it is first broken (stream timestamp in ms, as sent). */
  firstAtMs: number | null;
  detail: string;
  /** The pathologies behind it. */
  causes: Cause[];
}

/** Rules that need more than one input (the output, the wall clock, a decoder): inspect does not judge them. */
export const NOT_JUDGED: readonly ContractRule[] = [
  ContractRule.LIP_SYNC,
  ContractRule.LIVE_PACE,
  ContractRule.COMPLETE,
  ContractRule.DECODES,
  ContractRule.PACKAGES,
];

const RULE_ORDER = new Map(CONTRACT.map((c, i) => [c.rule, i]));
const MUST = new Map(CONTRACT.map((c) => [c.rule, c.cloudflareMust]));

/** Collects breaches rule by rule; a rule is reported once, with every cause found for it. */
export class RuleBook {
  private readonly broken = new Map<ContractRule, RuleFinding>();
  readonly notes: Cause[] = [];

  /** Rule `rule` is broken `count` times (nothing happens for count <= 0). */
  breach(rule: ContractRule, count: number, firstAtMs: number | null, detail: string, ...causes: Cause[]): void {
    if (count <= 0) return;
    const existing = this.broken.get(rule);
    if (existing) {
      existing.count += count;
      if (firstAtMs !== null && (existing.firstAtMs === null || firstAtMs < existing.firstAtMs))
        existing.firstAtMs = firstAtMs;
      existing.detail += `; ${detail}`;
      existing.causes.push(...causes);
      return;
    }
    const cloudflareMust = MUST.get(rule) ?? false;
    this.broken.set(rule, {
      rule,
      kind: rule,
      cloudflareMust,
      severity: cloudflareMust ? 'reject' : 'repair',
      count,
      firstAtMs,
      detail,
      causes,
    });
  }

  /** Information, not a broken rule (a low bitrate, metadata that disagrees with the bitstream). */
  note(cause: Cause): void {
    this.notes.push(cause);
  }

  /** The broken rules, in contract order. */
  findings(): RuleFinding[] {
    return [...this.broken.values()].sort((a, b) => (RULE_ORDER.get(a.rule) ?? 0) - (RULE_ORDER.get(b.rule) ?? 0));
  }
}

/** A cause, in one call. */
export function cause(
  kind: FindingKind,
  track: Cause['track'],
  count: number,
  firstAtMs: number | null,
  detail: string,
): Cause {
  return { kind, track, count, firstAtMs, detail };
}
