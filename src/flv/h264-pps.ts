/**
 * H.264 picture parameter set: ITU-T H.264 §7.3.2.2, up to redundant_pic_cnt_present_flag
 * (the fields a slice header's syntax depends on). Slice-group maps are not read: a PPS with
 * more than one slice group stops there, and its later fields are null.
 */
import { BitReader, nalToRbsp } from './bit-reader.js';
import { MediaFormatError, MediaFormatErrorCode } from './errors.js';

export interface Pps {
  ppsId: number;
  spsId: number;
  /** CABAC (true) or CAVLC. */
  entropyCodingMode: boolean;
  bottomFieldPicOrderInFramePresent: boolean;
  /** num_slice_groups_minus1 + 1 (FMO, Baseline only). */
  numSliceGroups: number;
  /** The fields below are null when numSliceGroups > 1. */
  weightedPred: boolean | null;
  weightedBipredIdc: number | null;
  deblockingFilterControlPresent: boolean | null;
  constrainedIntraPred: boolean | null;
  redundantPicCntPresent: boolean | null;
}

export function parsePps(nal: Buffer): Pps {
  if (nal.length < 2 || ((nal[0] as number) & 0x1f) !== 8) {
    throw new MediaFormatError(MediaFormatErrorCode.H264_PPS, 'not a PPS NAL unit');
  }
  const r = new BitReader(nalToRbsp(nal.subarray(1)));
  const ppsId = r.ue();
  const spsId = r.ue();
  if (ppsId > 255 || spsId > 31) {
    throw new MediaFormatError(
      MediaFormatErrorCode.H264_PPS,
      `pic_parameter_set_id ${ppsId} / seq_parameter_set_id ${spsId} out of range`,
    );
  }
  const entropyCodingMode = r.flag();
  const bottomFieldPicOrderInFramePresent = r.flag();
  const numSliceGroups = r.ue() + 1;
  const pps: Pps = {
    ppsId,
    spsId,
    entropyCodingMode,
    bottomFieldPicOrderInFramePresent,
    numSliceGroups,
    weightedPred: null,
    weightedBipredIdc: null,
    deblockingFilterControlPresent: null,
    constrainedIntraPred: null,
    redundantPicCntPresent: null,
  };
  if (numSliceGroups > 1) return pps;
  try {
    r.ue(); // num_ref_idx_l0_default_active_minus1
    r.ue(); // num_ref_idx_l1_default_active_minus1
    pps.weightedPred = r.flag();
    pps.weightedBipredIdc = r.u(2);
    r.se(); // pic_init_qp_minus26
    r.se(); // pic_init_qs_minus26
    r.se(); // chroma_qp_index_offset
    pps.deblockingFilterControlPresent = r.flag();
    pps.constrainedIntraPred = r.flag();
    pps.redundantPicCntPresent = r.flag();
  } catch {
    // A PPS cut short: the first fields still find the SPS; the rest stay unknown.
  }
  return pps;
}
