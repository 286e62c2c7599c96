/**
 * Test support (no FFmpeg): H.264 parameter sets and slices written field by field with
 * BitWriter (ITU-T H.264 §7.3.2.1.1, §7.3.2.2, §7.3.3), and the FLV tags that carry them and
 * AAC, for unit tests on synthetic streams. Slice data is a few arbitrary bytes: the code
 * under test reads headers only and copies what follows them.
 */
import { buildAudioSpecificConfig } from '../flv/aac-config.js';
import { buildAvcConfig } from '../flv/avc-config.js';
import { BitWriter, rbspToNal } from '../flv/bit-writer.js';
import { buildAacAudioTagBody, buildAvcVideoTagBody } from '../flv/flv-tag.js';
import { joinAvcc } from '../flv/nal-units.js';
import { AAC_FRAME_SAMPLES } from '../media/output-contract.js';
import { TAG_AUDIO, TAG_VIDEO, type MediaTag } from '../media/tag-kinds.js';

export interface SpsSpec {
  spsId?: number;
  /** 66 Baseline (default), 77 Main. */
  profileIdc?: number;
  levelIdc?: number;
  log2MaxFrameNum?: number;
  picOrderCntType?: 0 | 1 | 2;
  log2MaxPicOrderCntLsb?: number;
  maxNumRefFrames?: number;
  frameMbsOnly?: boolean;
  widthMbs?: number;
  heightMbs?: number;
  /** VUI timing for this frame rate (none when absent). */
  fps?: number;
}

export interface PpsSpec {
  ppsId?: number;
  spsId?: number;
  cabac?: boolean;
  deblockingFilterControl?: boolean;
  redundantPicCnt?: boolean;
}

/** slice_type values (§7.4.3 Table 7-6). */
export const SliceType = { P: 0, B: 1, I: 2 } as const;

export interface SliceSpec {
  idr: boolean;
  sliceType?: number;
  frameNum: number;
  pocLsb?: number;
  idrPicId?: number;
  nalRefIdc?: number;
  ppsId?: number;
  firstMb?: number;
  /** An IDR marked as a long-term reference (the rewriter refuses it). */
  longTerm?: boolean;
  qpDelta?: number;
  /** Slice data bytes (arbitrary: nothing under test decodes macroblocks). */
  payload?: Buffer;
}

export const DEFAULT_SPS: Required<Omit<SpsSpec, 'fps'>> = {
  spsId: 0,
  profileIdc: 66,
  levelIdc: 30,
  log2MaxFrameNum: 4,
  picOrderCntType: 0,
  log2MaxPicOrderCntLsb: 6,
  maxNumRefFrames: 1,
  frameMbsOnly: true,
  widthMbs: 20,
  heightMbs: 12,
};
export const DEFAULT_PPS: Required<PpsSpec> = {
  ppsId: 0,
  spsId: 0,
  cabac: false,
  deblockingFilterControl: true,
  redundantPicCnt: false,
};
export const DEFAULT_PAYLOAD = Buffer.from([0xb5, 0x00, 0x00, 0x01, 0x7e, 0x42]);

function nal(header: number, w: BitWriter): Buffer {
  w.u(1, 1); // rbsp_stop_one_bit
  w.alignWith(false);
  return Buffer.concat([Buffer.from([header]), rbspToNal(w.toBuffer())]);
}

function writeVuiTiming(w: BitWriter, fps: number): void {
  w.flag(false); // aspect_ratio_info_present_flag
  w.flag(false); // overscan_info_present_flag
  w.flag(false); // video_signal_type_present_flag
  w.flag(false); // chroma_loc_info_present_flag
  w.flag(true); // timing_info_present_flag
  w.u(32, 1000); // num_units_in_tick
  w.u(32, fps * 2000); // time_scale
  w.flag(true); // fixed_frame_rate_flag
  w.flag(false); // nal_hrd_parameters_present_flag
  w.flag(false); // vcl_hrd_parameters_present_flag
  w.flag(false); // pic_struct_present_flag
  w.flag(false); // bitstream_restriction_flag
}

/** An SPS NAL unit (nal_unit_type 7). Only non-High profiles: no chroma_format_idc fields. */
export function buildSps(spec: SpsSpec = {}): Buffer {
  const s = { ...DEFAULT_SPS, ...spec };
  const w = new BitWriter();
  w.u(8, s.profileIdc);
  w.u(8, 0); // constraint flags
  w.u(8, s.levelIdc);
  w.ue(s.spsId);
  w.ue(s.log2MaxFrameNum - 4);
  w.ue(s.picOrderCntType);
  if (s.picOrderCntType === 0) w.ue(s.log2MaxPicOrderCntLsb - 4);
  if (s.picOrderCntType === 1) {
    w.flag(false); // delta_pic_order_always_zero_flag
    w.se(0); // offset_for_non_ref_pic
    w.se(0); // offset_for_top_to_bottom_field
    w.ue(1); // num_ref_frames_in_pic_order_cnt_cycle
    w.se(2); // offset_for_ref_frame[0]
  }
  w.ue(s.maxNumRefFrames);
  w.flag(false); // gaps_in_frame_num_value_allowed_flag
  w.ue(s.widthMbs - 1);
  w.ue((s.frameMbsOnly ? s.heightMbs : s.heightMbs / 2) - 1);
  w.flag(s.frameMbsOnly);
  if (!s.frameMbsOnly) w.flag(false); // mb_adaptive_frame_field_flag
  w.flag(true); // direct_8x8_inference_flag
  w.flag(false); // frame_cropping_flag
  w.flag(spec.fps !== undefined); // vui_parameters_present_flag
  if (spec.fps !== undefined) writeVuiTiming(w, spec.fps);
  return nal(0x67, w);
}

/** A PPS NAL unit (nal_unit_type 8), one slice group. */
export function buildPps(spec: PpsSpec = {}): Buffer {
  const p = { ...DEFAULT_PPS, ...spec };
  const w = new BitWriter();
  w.ue(p.ppsId);
  w.ue(p.spsId);
  w.flag(p.cabac);
  w.flag(false); // bottom_field_pic_order_in_frame_present_flag
  w.ue(0); // num_slice_groups_minus1
  w.ue(0); // num_ref_idx_l0_default_active_minus1
  w.ue(0); // num_ref_idx_l1_default_active_minus1
  w.flag(false); // weighted_pred_flag
  w.u(2, 0); // weighted_bipred_idc
  w.se(0); // pic_init_qp_minus26
  w.se(0); // pic_init_qs_minus26
  w.se(0); // chroma_qp_index_offset
  w.flag(p.deblockingFilterControl);
  w.flag(false); // constrained_intra_pred_flag
  w.flag(p.redundantPicCnt);
  return nal(0x68, w);
}

/** The part of a P or B slice header after the POC fields, for one reference, no overrides. */
function writeInterTail(w: BitWriter, sliceType: number, nalRefIdc: number): void {
  if (sliceType % 5 === SliceType.B) w.flag(true); // direct_spatial_mv_pred_flag
  w.flag(false); // num_ref_idx_active_override_flag
  w.flag(false); // ref_pic_list_modification_flag_l0
  if (sliceType % 5 === SliceType.B) w.flag(false); // ref_pic_list_modification_flag_l1
  if (nalRefIdc !== 0) w.flag(false); // adaptive_ref_pic_marking_mode_flag
}

/** A slice NAL unit (nal_unit_type 5 for an IDR, else 1) for the SPS and PPS the specs describe. */
export function buildSlice(slice: SliceSpec, spsSpec: SpsSpec = {}, ppsSpec: PpsSpec = {}): Buffer {
  const sps = { ...DEFAULT_SPS, ...spsSpec };
  const pps = { ...DEFAULT_PPS, ...ppsSpec };
  const sliceType = slice.sliceType ?? (slice.idr ? SliceType.I : SliceType.P);
  const nalRefIdc = slice.nalRefIdc ?? 3;
  const w = new BitWriter();
  w.ue(slice.firstMb ?? 0);
  w.ue(sliceType);
  w.ue(slice.ppsId ?? pps.ppsId);
  w.u(sps.log2MaxFrameNum, slice.frameNum);
  if (!sps.frameMbsOnly) w.flag(false); // field_pic_flag: a frame
  if (slice.idr) w.ue(slice.idrPicId ?? 0);
  if (sps.picOrderCntType === 0) w.u(sps.log2MaxPicOrderCntLsb, slice.pocLsb ?? 0);
  if (sps.picOrderCntType === 1) w.se(0); // delta_pic_order_cnt[0]
  if (pps.redundantPicCnt) w.ue(0);
  if (sliceType % 5 !== SliceType.I) writeInterTail(w, sliceType, nalRefIdc);
  else if (slice.idr) {
    w.flag(false); // no_output_of_prior_pics_flag
    w.flag(slice.longTerm ?? false); // long_term_reference_flag
  } else if (nalRefIdc !== 0) w.flag(false); // adaptive_ref_pic_marking_mode_flag
  w.se(slice.qpDelta ?? 0);
  if (pps.deblockingFilterControl) w.ue(1); // disable_deblocking_filter_idc 1: no offsets follow
  if (pps.cabac) w.alignWith(true); // cabac_alignment_one_bit
  for (const b of slice.payload ?? DEFAULT_PAYLOAD) w.u(8, b);
  return nal((nalRefIdc << 5) | (slice.idr ? 5 : 1), w);
}

/** An AVC sequence header tag at `ts` with these parameter sets. */
export function avcHeaderTag(ts: number, sps: Buffer = buildSps(), pps: Buffer = buildPps()): MediaTag {
  const data = buildAvcVideoTagBody({
    frameType: 1,
    packetType: 0,
    compositionTimeMs: 0,
    data: buildAvcConfig({ sps: [sps], pps: [pps] }),
  });
  return { tagType: TAG_VIDEO, timestampMs: ts, data };
}

/** A coded video frame tag: `nals` in AVCC, FLV frame type 1 when `key`, else 2. */
export function avcFrameTag(ts: number, nals: Buffer[], key: boolean, cts = 0): MediaTag {
  const data = buildAvcVideoTagBody({
    frameType: key ? 1 : 2,
    packetType: 1,
    compositionTimeMs: cts,
    data: joinAvcc(nals),
  });
  return { tagType: TAG_VIDEO, timestampMs: ts, data };
}

/** An AAC sequence header tag (AAC-LC, 44.1 kHz, stereo). */
export function aacHeaderTag(ts: number): MediaTag {
  const asc = buildAudioSpecificConfig({ objectType: 2, sampleRate: 44100, channelConfig: 2 });
  return { tagType: TAG_AUDIO, timestampMs: ts, data: buildAacAudioTagBody({ packetType: 0, data: asc }) };
}

/** An AAC raw frame tag; `tagByte` replaces the first byte (the contract's 0xAF by default). */
export function aacFrameTag(ts: number, tagByte?: number): MediaTag {
  const data = buildAacAudioTagBody({ packetType: 1, data: Buffer.from([0x21, 0x10, 0x05, 0x00]) });
  if (tagByte !== undefined) data[0] = tagByte;
  return { tagType: TAG_AUDIO, timestampMs: ts, data };
}

/** The `i`th video frame's time at `fps`, in ms (rounded, as an encoder stamps it). */
export const videoFrameMs = (i: number, fps = 30): number => Math.round((i * 1000) / fps);

/** The `i`th AAC frame's time at `sampleRate` (1024 samples a frame), in ms. */
export const aacFrameMs = (i: number, sampleRate = 44100): number =>
  Math.round((i * AAC_FRAME_SAMPLES * 1000) / sampleRate);
