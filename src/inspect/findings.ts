/**
 * What `rinse inspect` can find in a stream, and how each finding weighs against what
 * Cloudflare Stream Live accepts (shared/cloudflare-ingest.md). Fixture manifests name
 * their pathologies with these same ids, so a test can check that inspect finds them all.
 */

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
} as const;

export type FindingKind = (typeof FindingKind)[keyof typeof FindingKind];

export type Severity = 'reject' | 'warn';

/** A rule from shared/cloudflare-ingest.md, quoted short. */
export const CloudflareRule = {
  VIDEO_H264: 'Media MUST: video H.264 only over RTMPS',
  AUDIO_AAC: 'Media MUST: audio AAC only (ADTS accepted, LATM not)',
  KEYFRAME_INTERVAL: 'Media MUST: keyframe interval between 2 and 10 seconds, closed GOPs',
  TIMESTAMPS_MONOTONIC: 'Media MUST: timestamps monotonic',
  SEQUENCE_HEADERS: 'Media MUST: sequence headers (AVC and AAC) before the media they describe',
  BITRATE: 'Media SHOULD: combined bitrate between 2 and 14 Mbps',
  FLAT_KEYFRAME_CHART: 'Keyframe-interval chart should be a consistent flat line (fixed interval)',
  UNHEALTHY: 'ERR_UNHEALTHY: encoder misconfiguration the ingest cannot process',
  RECONNECT: 'Transport: clients must reconnect; a stalled feed is not a live feed',
} as const;

/** How each finding weighs, and the rule it is judged by. */
export const FINDING_RULES: Record<FindingKind, { severity: Severity; rule: string }> = {
  'ts-backwards': { severity: 'reject', rule: CloudflareRule.TIMESTAMPS_MONOTONIC },
  'ts-repeat': { severity: 'reject', rule: CloudflareRule.TIMESTAMPS_MONOTONIC },
  'ts-jump': { severity: 'warn', rule: CloudflareRule.TIMESTAMPS_MONOTONIC },
  'ts-restart': { severity: 'reject', rule: CloudflareRule.TIMESTAMPS_MONOTONIC },
  'ts-wrap': { severity: 'reject', rule: CloudflareRule.TIMESTAMPS_MONOTONIC },
  'ts-start-offset': { severity: 'warn', rule: CloudflareRule.TIMESTAMPS_MONOTONIC },
  'av-out-of-order': { severity: 'reject', rule: CloudflareRule.TIMESTAMPS_MONOTONIC },
  'av-drift': { severity: 'warn', rule: CloudflareRule.TIMESTAMPS_MONOTONIC },
  'irregular-cadence': { severity: 'warn', rule: CloudflareRule.FLAT_KEYFRAME_CHART },
  stall: { severity: 'warn', rule: CloudflareRule.RECONNECT },
  'all-intra': { severity: 'reject', rule: CloudflareRule.KEYFRAME_INTERVAL },
  'gop-too-short': { severity: 'reject', rule: CloudflareRule.KEYFRAME_INTERVAL },
  'gop-too-long': { severity: 'reject', rule: CloudflareRule.KEYFRAME_INTERVAL },
  'keyframe-flag-mismatch': { severity: 'reject', rule: CloudflareRule.KEYFRAME_INTERVAL },
  'annexb-framing': { severity: 'reject', rule: CloudflareRule.UNHEALTHY },
  'mixed-framing': { severity: 'reject', rule: CloudflareRule.UNHEALTHY },
  'adts-audio': { severity: 'warn', rule: CloudflareRule.AUDIO_AAC },
  'avc-sequence-header-missing': { severity: 'reject', rule: CloudflareRule.SEQUENCE_HEADERS },
  'avc-sequence-header-late': { severity: 'reject', rule: CloudflareRule.SEQUENCE_HEADERS },
  'avc-sequence-header-changed': { severity: 'warn', rule: CloudflareRule.SEQUENCE_HEADERS },
  'aac-sequence-header-missing': { severity: 'reject', rule: CloudflareRule.SEQUENCE_HEADERS },
  'bframes-no-cts': { severity: 'reject', rule: CloudflareRule.UNHEALTHY },
  'unsupported-video-codec': { severity: 'reject', rule: CloudflareRule.VIDEO_H264 },
  'unsupported-audio-codec': { severity: 'reject', rule: CloudflareRule.AUDIO_AAC },
  'low-bitrate': { severity: 'warn', rule: CloudflareRule.BITRATE },
  'metadata-mismatch': { severity: 'warn', rule: CloudflareRule.UNHEALTHY },
};

export interface Finding {
  kind: FindingKind;
  track: 'audio' | 'video' | 'both';
  /** How many times it happened. */
  count: number;
  /** Where it first happened (stream timestamp in ms, as sent). */
  firstAtMs: number | null;
  /** One line for a person. */
  detail: string;
}
