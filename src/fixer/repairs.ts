/**
 * Repair records: every change the fixer makes to a stream is one typed record, so
 * `inspect`, `fix` and the live relay can count, show and log what was done.
 */

export const RepairKind = {
  /** A timestamp that went backwards was moved forward. */
  TS_BACKWARDS: 'ts-backwards',
  /** A repeated timestamp was moved forward. */
  TS_REPEAT: 'ts-repeat',
  /** A forward jump beyond the track's jump threshold was closed. */
  TS_JUMP: 'ts-jump',
  /** Timestamps restarted near 0; the timeline continues instead. */
  TS_RESTART: 'ts-restart',
  /** The first timestamp was far from 0; the stream now starts at 0. */
  TS_START_OFFSET: 'ts-start-offset',
  /** A video timestamp snapped to the regular frame grid. */
  CADENCE_SNAP: 'cadence-snap',
  /** An audio timestamp replaced by the sample-count clock. */
  AUDIO_CLOCK: 'audio-clock',
  /** An AAC tag's first byte set to 0xAF (FLV E.4.2.1; the source wrote another). */
  AAC_TAG_BYTE: 'aac-tag-byte',
  /** An audio timestamp raised so that no two AAC frames share one. */
  AUDIO_TS_RAISED: 'audio-ts-raised',
  /** A tag held back until the other track caught up (out of order across tracks). */
  REORDERED: 'reordered',
  /** A tag that arrived after later tags were sent, stamped forward to keep order. */
  REORDER_CLAMPED: 'reorder-clamped',
  /** Annex-B or mixed NAL framing rewritten as 4-byte AVCC. */
  NAL_REFRAMED: 'nal-reframed',
  /** AUD or filler NAL units dropped. */
  NAL_DROPPED: 'nal-dropped',
  /** SPS/PPS moved out of a frame into a sequence header. */
  PARAMETER_SETS_MOVED: 'parameter-sets-moved',
  /** An AVC sequence header built from in-band SPS/PPS, or re-sent because they changed. */
  AVC_SEQUENCE_HEADER: 'avc-sequence-header',
  /** The keyframe flag set from the NAL unit types. */
  KEYFRAME_FLAG: 'keyframe-flag',
  /** The keyframe flag cleared on an IDR closer than the target interval (all-intra streams). */
  KEYFRAME_THINNED: 'keyframe-thinned',
  /**
   * An IDR closer than the target interval rewritten as a non-IDR I picture (slice header
   * only: the coded picture decodes the same). amount: ms since the last kept keyframe.
   */
  IDR_DEMOTED: 'idr-demoted',
  /** frame_num / POC continued in a picture after a demoted IDR (slice header only). */
  SLICE_RENUMBERED: 'slice-renumbered',
  /** SPS max_num_ref_frames raised so demoted I pictures are not taken for keyframes. amount: the new value. */
  SPS_REF_FRAMES: 'sps-ref-frames',
  /** A frame dropped because it came before the first decodable IDR. */
  DROPPED_BEFORE_IDR: 'dropped-before-idr',
  /** An audio frame dropped after a filled gap: audio resumes with video, at its next IDR. */
  DROPPED_IN_GAP: 'dropped-in-gap',
  /** ADTS headers stripped from AAC frames. */
  ADTS_STRIPPED: 'adts-stripped',
  /** An AAC sequence header synthesized from ADTS. */
  AAC_SEQUENCE_HEADER: 'aac-sequence-header',
  /** Composition time derived from the slice POC (B-frames sent with CTS 0). */
  CTS_FROM_POC: 'cts-from-poc',
} as const;

export type RepairKind = (typeof RepairKind)[keyof typeof RepairKind];

export interface RepairRecord {
  kind: RepairKind;
  track: 'audio' | 'video';
  /** Input timestamp (ms, as sent) of the tag repaired. */
  atMs: number;
  /** How much: ms moved for timestamp repairs, bytes or units for the others. */
  amount: number;
}

/** Counts of repairs by kind, with the largest amount seen. */
export type RepairSummary = Partial<Record<RepairKind, { count: number; maxAmount: number }>>;

export function summarise(summary: RepairSummary, record: RepairRecord): void {
  const entry = summary[record.kind];
  if (entry) {
    entry.count++;
    entry.maxAmount = Math.max(entry.maxAmount, Math.abs(record.amount));
  } else {
    summary[record.kind] = { count: 1, maxAmount: Math.abs(record.amount) };
  }
}

/** Why a stream cannot be made acceptable by remuxing. */
export const TranscodeReason = {
  GOP_TOO_LONG: 'gop-too-long',
  UNSUPPORTED_VIDEO_CODEC: 'unsupported-video-codec',
  UNSUPPORTED_AUDIO_CODEC: 'unsupported-audio-codec',
  BFRAMES_WITHOUT_POC: 'bframes-without-poc',
} as const;

export type TranscodeReason = (typeof TranscodeReason)[keyof typeof TranscodeReason];

export interface TranscodeDecision {
  reason: TranscodeReason;
  /** Input timestamp where it was decided. */
  atMs: number;
  detail: string;
}
