/**
 * The output contract: what every stream rinse writes (`rinse fix` files, the relay's
 * upstream, the local `clean/` path and recordings, the transcode fallback) must satisfy,
 * and what `rinse inspect` judges an input by. The README's "Output contract" section is
 * the same table in prose. Numbers are in the FLV millisecond timebase.
 *
 * Each rule's limits live here once; the fixer, the analyzer and the tests read them from
 * this module. Imports nothing of ours.
 */

/** Stable rule ids, as `rinse inspect` names them. */
export const ContractRule = {
  PARSE: 'parse',
  MEDIA: 'media',
  CODECS: 'codecs',
  HEADERS_FIRST: 'headers-first',
  STABLE_HEADERS: 'stable-headers',
  AVCC_FRAMING: 'avcc-framing',
  RAW_AAC: 'raw-aac',
  AAC_TAG_BYTE: 'aac-tag-byte',
  FIRST_FRAME: 'first-frame',
  KEY_FLAGS: 'key-flags',
  MONOTONIC: 'monotonic',
  STEPS: 'steps',
  START: 'start',
  KEYFRAME_INTERVAL: 'keyframe-interval',
  LIP_SYNC: 'lip-sync',
  AV_SKEW: 'av-skew',
  CADENCE: 'cadence',
  COMPOSITION: 'composition',
  LIVE_PACE: 'live-pace',
  COMPLETE: 'complete',
  DECODES: 'decodes',
  PACKAGES: 'packages',
} as const;

export type ContractRule = (typeof ContractRule)[keyof typeof ContractRule];

/** At least this many frames of each track, or there is nothing to judge. */
export const MIN_TRACK_FRAMES = 10;

/**
 * The AAC tag byte: SoundFormat 10, 44 kHz, 16-bit, stereo (FLV 10.1 E.4.2.1: AAC always
 * declares these, the real values are in the AudioSpecificConfig). A byte that changes
 * mid-stream makes FFmpeg's demuxer signal a parameter change its AAC decoder refuses.
 */
export const AAC_TAG_BYTE = 0xaf;

/** Samples in one AAC frame (ISO/IEC 14496-3; the rare 960-sample variant comes from the ASC). */
export const AAC_FRAME_SAMPLES = 1024;

/** Cloudflare's keyframe interval is 2-10 s; 100 ms under 2 s absorbs millisecond rounding of a 2 s GOP. */
export const MIN_KEYFRAME_INTERVAL_MS = 1900;
/** Cloudflare's maximum keyframe interval (and the longest open last GOP), in ms. */
export const MAX_KEYFRAME_INTERVAL_MS = 10_000;

/** The largest per-track DTS step, in ms: longer steps read as a broken stream downstream. */
export const MAX_DTS_STEP_MS = 1000;

/** Each track's first DTS at most this, in ms. */
export const MAX_START_MS = 5000;

/** Audio may move against video by at most one AAC frame (about 23 ms at 44.1 kHz), in ms. */
export const LIP_SYNC_TOLERANCE_MS = 23;

/** In arrival order, the last audio and the last video DTS never differ by more than this, in ms. */
export const MAX_AV_SKEW_MS = 1000;
/** Audio against video drift at most this fraction of the elapsed time. */
export const MAX_AV_DRIFT_FRACTION = 0.005;

/** p95 of |frame interval - local median| at most this, in ms. */
export const CADENCE_P95_MS = 40;
/** The local median is taken over this many neighbouring intervals. */
export const CADENCE_NEIGHBOURS = 15;

/** Live outputs: the offset (DTS - arrival) changes by at most max(this, LIVE_PACE_FRACTION of the stream), in ms. */
export const LIVE_PACE_MS = 1500;
export const LIVE_PACE_FRACTION = 0.05;

/** Live outputs span at least this share of what was published ... */
export const COMPLETE_FRACTION = 0.85;
/** ... or this share across a publisher reconnect. */
export const COMPLETE_FRACTION_ACROSS_RECONNECT = 0.6;

/** No HLS segment over this, in s, when packaged with a 2 s target. */
export const MAX_HLS_SEGMENT_S = 11;

export interface ContractRuleInfo {
  rule: ContractRule;
  /** When the rule holds, in a line. */
  holdsWhen: string;
  /** Why it matters. */
  reason: string;
  /** Cloudflare's documented MUSTs reject a stream that breaks it (otherwise rinse repairs it as a contract breach). */
  cloudflareMust: boolean;
}

/** The contract, rule by rule. */
export const CONTRACT: readonly ContractRuleInfo[] = [
  {
    rule: ContractRule.PARSE,
    holdsWhen: 'the FLV parses; every PreviousTagSize is right; nothing trails the last tag',
    reason: 'a reader that loses sync drops the rest of the stream',
    cloudflareMust: true,
  },
  {
    rule: ContractRule.MEDIA,
    holdsWhen: `at least ${MIN_TRACK_FRAMES} video and ${MIN_TRACK_FRAMES} audio frames`,
    reason: 'a broadcast needs both tracks',
    cloudflareMust: false,
  },
  {
    rule: ContractRule.CODECS,
    holdsWhen: 'video AVC (CodecID 7) only, audio AAC (SoundFormat 10) only',
    reason: 'Cloudflare accepts only H.264 and AAC over RTMPS',
    cloudflareMust: true,
  },
  {
    rule: ContractRule.HEADERS_FIRST,
    holdsWhen: 'an AVC and an AAC sequence header come before the first frame of their track',
    reason: 'Cloudflare: sequence headers before the media they describe',
    cloudflareMust: true,
  },
  {
    rule: ContractRule.STABLE_HEADERS,
    holdsWhen:
      'every AAC sequence header equal; a new AVC sequence header only where the SPS really changes, right before an IDR',
    reason: 'a decoder re-initialises on every new header',
    cloudflareMust: false,
  },
  {
    rule: ContractRule.AVCC_FRAMING,
    holdsWhen: 'every video payload tiles exactly into 4-byte length-prefixed NAL units, none containing a start code',
    reason: 'FLV carries AVCC; start codes inside a NAL unit corrupt the picture',
    cloudflareMust: false,
  },
  {
    rule: ContractRule.RAW_AAC,
    holdsWhen: 'no ADTS header inside an AAC raw frame',
    reason: 'FLV carries raw AAC; ADTS inside it decodes as noise',
    cloudflareMust: false,
  },
  {
    rule: ContractRule.AAC_TAG_BYTE,
    holdsWhen: 'every AAC tag starts with 0xAF',
    reason: 'FLV E.4.2.1; a changing byte makes FFmpeg signal a parameter change its AAC decoder refuses',
    cloudflareMust: false,
  },
  {
    rule: ContractRule.FIRST_FRAME,
    holdsWhen: 'the first video frame is flagged key and holds an IDR',
    reason: 'nothing before an IDR decodes',
    cloudflareMust: false,
  },
  {
    rule: ContractRule.KEY_FLAGS,
    holdsWhen: 'a key flag only on a frame that holds an IDR',
    reason: 'the ingest cuts segments at flagged keyframes',
    cloudflareMust: false,
  },
  {
    rule: ContractRule.MONOTONIC,
    holdsWhen: 'video DTS and audio DTS each strictly increasing',
    reason: 'Cloudflare: timestamps monotonic; two AAC frames never share a timestamp',
    cloudflareMust: true,
  },
  {
    rule: ContractRule.STEPS,
    holdsWhen: `every per-track DTS step at most ${MAX_DTS_STEP_MS} ms`,
    reason: 'a longer step stalls the HLS player',
    cloudflareMust: false,
  },
  {
    rule: ContractRule.START,
    holdsWhen: `each track's first DTS at most ${MAX_START_MS} ms`,
    reason: 'a late start reads as a gap at the start',
    cloudflareMust: false,
  },
  {
    rule: ContractRule.KEYFRAME_INTERVAL,
    holdsWhen: `consecutive keyframes ${MIN_KEYFRAME_INTERVAL_MS}-${MAX_KEYFRAME_INTERVAL_MS} ms apart, the open last GOP at most ${MAX_KEYFRAME_INTERVAL_MS} ms`,
    reason: 'Cloudflare: keyframe interval 2-10 s (ERR_GOP_OUT_OF_RANGE)',
    cloudflareMust: true,
  },
  {
    rule: ContractRule.LIP_SYNC,
    holdsWhen: `audio moves against video by at most ${LIP_SYNC_TOLERANCE_MS} ms anywhere, a late-starting track still starts late`,
    reason: 'ITU-R BT.1359: audio leading by 45 ms is at the edge of what viewers notice',
    cloudflareMust: false,
  },
  {
    rule: ContractRule.AV_SKEW,
    holdsWhen: `in arrival order, the last audio and video DTS differ by at most ${MAX_AV_SKEW_MS} ms; drift at most ${MAX_AV_DRIFT_FRACTION * 100} %`,
    reason: 'a player buffers the skew, or drops a track',
    cloudflareMust: false,
  },
  {
    rule: ContractRule.CADENCE,
    holdsWhen: `p95 of abs(frame interval - median of its ${CADENCE_NEIGHBOURS} neighbours) at most ${CADENCE_P95_MS} ms`,
    reason: 'jitter shows as stutter; a sustained rate change is not jitter',
    cloudflareMust: false,
  },
  {
    rule: ContractRule.COMPOSITION,
    holdsWhen: 'no negative composition time; with B slices, presentation order equals picture order count order',
    reason: 'a wrong order shows pictures out of sequence',
    cloudflareMust: false,
  },
  {
    rule: ContractRule.LIVE_PACE,
    holdsWhen: `(live) DTS - arrival changes by at most max(${LIVE_PACE_MS} ms, ${LIVE_PACE_FRACTION * 100} %)`,
    reason: 'a media clock behind the wall clock leaves the broadcast behind live',
    cloudflareMust: false,
  },
  {
    rule: ContractRule.COMPLETE,
    holdsWhen: `(live) the output spans at least ${COMPLETE_FRACTION * 100} % of what was published (${COMPLETE_FRACTION_ACROSS_RECONNECT * 100} % across a reconnect)`,
    reason: 'nothing lost',
    cloudflareMust: false,
  },
  {
    rule: ContractRule.DECODES,
    holdsWhen: '`ffmpeg -v error -i OUT.flv -f null -` prints nothing, with FFmpeg 4.1 and a current FFmpeg',
    reason: 'the ingest decodes with a current FFmpeg-like stack',
    cloudflareMust: false,
  },
  {
    rule: ContractRule.PACKAGES,
    holdsWhen: `\`ffmpeg -i OUT.flv -c copy -f hls -hls_time 2\` succeeds without error lines; no segment over ${MAX_HLS_SEGMENT_S} s`,
    reason: 'Cloudflare packages HLS from the ingest',
    cloudflareMust: false,
  },
];
