/**
 * Filler pictures without an encoder: ITU-T H.264 §7.3.3 (slice_header), §7.3.3.1
 * (ref_pic_list_modification), §7.3.3.2 (pred_weight_table), §7.3.3.3 (dec_ref_pic_marking)
 * and §7.3.4 (slice_data) for a P picture whose every macroblock is P_Skip, built from the
 * stream's own SPS and PPS. CAVLC writes one mb_skip_run; CABAC writes mb_skip_flag and
 * end_of_slice_flag per macroblock (cabac-encoder.ts).
 *
 * Why the picture is an exact copy of its reference: P_Skip's motion vector is predicted
 * (§8.4.1.1) as zero when neighbour A or B is unavailable or is a zero-motion refIdx 0
 * block, which holds for the first row and column and then, by induction, everywhere; a
 * skipped macroblock has no residual; and between two skipped macroblocks with the same
 * reference and motion the deblocking strength is 0 (§8.7.2.1), besides the filter being
 * switched off in the header when the PPS lets it be. Explicit weighted prediction gets
 * identity weights (denominator 0, no per-reference weights).
 *
 * Why every filler picture is a reference picture (nal_ref_idc 1, sliding window): a run of
 * non-reference pictures would all carry one frame_num, and for POC type 0 each would count
 * its POC from the last real reference (§8.2.1.1 moves prevPicOrderCnt on references only),
 * so a run longer than MaxPicOrderCntLsb / 2 wraps backward; POC type 2 forbids two
 * non-reference pictures in a row (§8.2.1.3). As references, frame_num steps by 1 modulo
 * MaxFrameNum (no gaps) and the POC by 2, for as long as the run lasts. The price: the
 * sliding window pushes the real references out, so real pictures after a filler run must
 * start with an IDR, as a reconnecting publisher's do.
 *
 * Which picture is repeated: ref_idx 0 is by default the last reference decoded, but with
 * B-pyramids the picture shown last is the reference with the highest POC, decoded before
 * the B reference. The first filler picture puts that one first in its list
 * (modification_of_pic_nums_idc 0); each later one repeats the filler picture before it.
 *
 * Parameter sets that change the picture structure are refused with a reason (see
 * SkipPictureRefusal) rather than served approximately.
 */
import { BitReader, nalToRbsp } from './bit-reader.js';
import { BitWriter, rbspToNal } from './bit-writer.js';
import { CabacEncoder, initCabacContext } from './cabac-encoder.js';
import { MediaFormatError } from './errors.js';
import { PocCounter } from './h264-poc.js';
import { parsePps, type Pps } from './h264-pps.js';
import type { SliceHeader } from './h264-slice.js';
import { parseSps, type Sps } from './h264-sps.js';
import { NalType } from './nal-units.js';

/** nal_ref_idc of a filler picture: a reference (see above), the lowest priority. */
const SKIP_NAL_REF_IDC = 1;
/** §7.4.3 Table 7-6: P, and every slice of the picture is P. */
const SLICE_TYPE_P_ALL = 5;
/** §7.4.3: cabac_init_idc 0 is the table whose mb_skip_flag context starts likeliest "skipped". */
const CABAC_INIT_IDC = 0;
/** Table 9-13, ctxIdx 11 (mb_skip_flag of P slices, ctxIdxInc 0) for cabac_init_idc 0: (m, n). */
const MB_SKIP_FLAG_P_INIT: readonly [number, number] = [23, 33];
/** §7.4.3: disable_deblocking_filter_idc 1 switches the filter off for the slice. */
const DEBLOCKING_OFF = 1;
/** §7.4.3.1: modification_of_pic_nums_idc values. */
const MODIFY_SUBTRACT = 0;
const MODIFY_END = 3;
/** POC advances 2 per frame (its two fields are 1 apart), as x264 and most encoders count. */
const POC_STEP = 2;
/** §A.2.8-A.2.11: profiles that allow only I slices (the Intra ones when constraint_set3_flag is set). */
const CAVLC_444_INTRA = 44;
const INTRA_WITH_SET3 = new Set([110, 122, 244]);
const CONSTRAINT_SET3 = 0x10;

/** Where numbering stands after the last real picture (decode order), read from its slice headers. */
export interface SkipPictureState {
  /** frame_num of the last reference picture (PrevRefFrameNum, §7.4.3). */
  prevRefFrameNum: number;
  /** frame_num of the reference picture to repeat: a short-term reference still held. */
  sourceFrameNum: number;
  /** POC (§8.2.1, from the last IDR) of the last reference picture. POC type 0 only. */
  prevRefPoc: number;
  /** The highest POC since the last IDR: the filler is shown after it. POC type 0 only. */
  maxPoc: number;
}

/** Why a stream gets no video filler. */
export type SkipPictureRefusal =
  /** The SPS or PPS does not parse. */
  | 'unreadable-parameter-sets'
  /** The PPS stops before redundant_pic_cnt_present_flag. */
  | 'pps-incomplete'
  /** The PPS names another SPS. */
  | 'parameter-sets-mismatch'
  /** frame_mbs_only_flag 0: field pictures and MBAFF change the slice and macroblock syntax. */
  | 'field-coding'
  /** separate_colour_plane_flag: each picture would need three colour_plane_id slices. */
  | 'separate-colour-planes'
  /** More than one slice group (FMO): a slice map, and slice_group_change_cycle in the header. */
  | 'slice-groups'
  /** POC type 1 follows the SPS's expected-delta cycle, which is not parsed here. */
  | 'poc-type-1'
  /** An intra-only profile: P slices are not allowed. */
  | 'intra-profile'
  /** max_num_ref_frames 0: nothing to predict from. */
  | 'no-reference-frames'
  /** A frame_num in the state does not fit the SPS's log2_max_frame_num. */
  | 'state-out-of-range'
  /** The first filler POC is too far from the last reference's for its LSBs to say it. */
  | 'poc-out-of-reach';

export interface SkipPicturePlan {
  readonly sps: Sps;
  readonly pps: Pps;
  readonly state: SkipPictureState;
  /** PicSizeInMbs (§7.4.2.1.1), a frame. */
  readonly picSizeInMbs: number;
  /** SliceQPY = 26 + pic_init_qp_minus26 (slice_qp_delta is 0). */
  readonly sliceQpY: number;
  /** CABAC: the arithmetic-coded slice data through its stop bit, zero padded; the same for every picture. */
  readonly cabacSliceData: Buffer | null;
}

export type SkipPicturePlanResult =
  { ok: true; plan: SkipPicturePlan } | { ok: false; reason: SkipPictureRefusal; detail: string };

function refuse(reason: SkipPictureRefusal, detail: string): SkipPicturePlanResult {
  return { ok: false, reason, detail };
}

function mod(a: number, m: number): number {
  return ((a % m) + m) % m;
}

/** pic_init_qp_minus26 (§7.3.2.2), which the shared PPS parser does not keep. One slice group. */
function readPicInitQpMinus26(ppsNal: Buffer): number {
  const r = new BitReader(nalToRbsp(ppsNal.subarray(1)));
  r.ue(); // pic_parameter_set_id
  r.ue(); // seq_parameter_set_id
  r.skip(2); // entropy_coding_mode_flag, bottom_field_pic_order_in_frame_present_flag
  r.ue(); // num_slice_groups_minus1 (0: no map follows)
  r.ue(); // num_ref_idx_l0_default_active_minus1
  r.ue(); // num_ref_idx_l1_default_active_minus1
  r.skip(3); // weighted_pred_flag, weighted_bipred_idc
  return r.se();
}

/** §8.2.1.1: the POC a decoder derives from `lsb` after a reference picture of POC `prevPoc`. */
export function derivePocType0(prevPoc: number, lsb: number, maxLsb: number): number {
  const prevLsb = mod(prevPoc, maxLsb);
  let msb = prevPoc - prevLsb;
  if (lsb < prevLsb && prevLsb - lsb >= maxLsb / 2) msb += maxLsb;
  else if (lsb > prevLsb && lsb - prevLsb > maxLsb / 2) msb -= maxLsb;
  return msb + lsb;
}

/** The first SPS feature that keeps this stream from skip pictures, or null. */
function spsRefusal(sps: Sps, pps: Pps): SkipPicturePlanResult | null {
  if (pps.spsId !== sps.spsId) return refuse('parameter-sets-mismatch', `PPS names SPS ${pps.spsId}, not ${sps.spsId}`);
  if (!sps.frameMbsOnly) return refuse('field-coding', 'frame_mbs_only_flag 0');
  if (sps.separateColourPlane) return refuse('separate-colour-planes', 'separate_colour_plane_flag 1');
  if (sps.picOrderCntType === 1) return refuse('poc-type-1', 'pic_order_cnt_type 1');
  const intra =
    sps.profileIdc === CAVLC_444_INTRA ||
    (INTRA_WITH_SET3.has(sps.profileIdc) && (sps.constraintFlags & CONSTRAINT_SET3) !== 0);
  if (intra) return refuse('intra-profile', `profile_idc ${sps.profileIdc} with only I slices`);
  if (sps.maxNumRefFrames === 0) return refuse('no-reference-frames', 'max_num_ref_frames 0');
  return null;
}

function stateRefusal(sps: Sps, state: SkipPictureState): SkipPicturePlanResult | null {
  const maxFrameNum = 2 ** sps.log2MaxFrameNum;
  for (const v of [state.prevRefFrameNum, state.sourceFrameNum]) {
    if (!Number.isInteger(v) || v < 0 || v >= maxFrameNum)
      return refuse('state-out-of-range', `frame_num ${v} with MaxFrameNum ${maxFrameNum}`);
  }
  if (sps.picOrderCntType === 0) {
    const maxLsb = 2 ** (sps.log2MaxPicOrderCntLsb as number);
    const first = state.maxPoc + POC_STEP;
    const derived = derivePocType0(state.prevRefPoc, mod(first, maxLsb), maxLsb);
    if (derived !== first)
      return refuse('poc-out-of-reach', `POC ${first} after a reference at ${state.prevRefPoc} (MaxLsb ${maxLsb})`);
  }
  return null;
}

/** The slice data of every CABAC filler picture (§7.3.4): per macroblock mb_skip_flag 1, end_of_slice_flag. */
function cabacSkipData(picSizeInMbs: number, sliceQpY: number): Buffer {
  const w = new BitWriter(64);
  const enc = new CabacEncoder(w);
  // §9.3.3.1.1.1: condTermFlagN is 0 for a neighbour that is unavailable or skipped, so
  // ctxIdxInc is 0 for every macroblock of an all-skipped slice: one context, ctxIdx 11.
  const ctx = initCabacContext(MB_SKIP_FLAG_P_INIT[0], MB_SKIP_FLAG_P_INIT[1], sliceQpY);
  for (let mb = 0; mb < picSizeInMbs; mb++) {
    enc.encodeDecision(ctx, 1);
    enc.encodeTerminate(mb === picSizeInMbs - 1 ? 1 : 0);
  }
  w.alignWith(false); // the flush wrote rbsp_stop_one_bit; rbsp_alignment_zero_bits follow
  // No cabac_zero_word is due (§7.4.2.10, §9.3.4.6): 2 bins per macroblock stay far below the
  // allowance of RawMbBits / 32 (at least 64) bins per macroblock.
  return Buffer.from(w.toBuffer());
}

/**
 * Check that skip pictures can follow a stream with these parameter sets (NAL units with
 * their headers) from `state`, and precompute what every picture shares.
 */
export function planSkipPictures(spsNal: Buffer, ppsNal: Buffer, state: SkipPictureState): SkipPicturePlanResult {
  let sps: Sps;
  let pps: Pps;
  try {
    sps = parseSps(spsNal);
    pps = parsePps(ppsNal);
  } catch (err) {
    if (err instanceof MediaFormatError) return refuse('unreadable-parameter-sets', err.message);
    throw err;
  }
  const refusal = spsRefusal(sps, pps) ?? stateRefusal(sps, state);
  if (refusal !== null) return refusal;
  if (pps.numSliceGroups > 1) return refuse('slice-groups', `${pps.numSliceGroups} slice groups`);
  if (pps.weightedPred === null || pps.deblockingFilterControlPresent === null || pps.redundantPicCntPresent === null)
    return refuse('pps-incomplete', 'PPS ends before redundant_pic_cnt_present_flag');
  let picInitQpMinus26: number;
  try {
    picInitQpMinus26 = readPicInitQpMinus26(ppsNal);
  } catch (err) {
    if (err instanceof MediaFormatError) return refuse('pps-incomplete', err.message);
    throw err;
  }
  const picSizeInMbs = (sps.codedWidth / 16) * (sps.codedHeight / 16);
  const sliceQpY = 26 + picInitQpMinus26;
  const cabacSliceData = pps.entropyCodingMode ? cabacSkipData(picSizeInMbs, sliceQpY) : null;
  return { ok: true, plan: { sps, pps, state: { ...state }, picSizeInMbs, sliceQpY, cabacSliceData } };
}

/** frame_num and POC of filler picture `index` (0 = the first after the real pictures). */
function numbering(plan: SkipPicturePlan, index: number): { frameNum: number; poc: number } {
  return {
    frameNum: mod(plan.state.prevRefFrameNum + 1 + index, 2 ** plan.sps.log2MaxFrameNum),
    poc: plan.state.maxPoc + POC_STEP * (index + 1),
  };
}

/** §7.3.3.1: the first filler picture moves the repeated picture to ref_idx 0 when it is not there already. */
function writeRefPicListModification(w: BitWriter, plan: SkipPicturePlan, index: number, frameNum: number): void {
  const { prevRefFrameNum, sourceFrameNum } = plan.state;
  if (index > 0 || sourceFrameNum === prevRefFrameNum) {
    w.flag(false); // ref_pic_list_modification_flag_l0
    return;
  }
  // §8.2.4.3.1: from picNumPred = CurrPicNum (frame_num), subtract down to the source's PicNum.
  const diff = mod(frameNum - sourceFrameNum, 2 ** plan.sps.log2MaxFrameNum);
  w.flag(true);
  w.ue(MODIFY_SUBTRACT);
  w.ue(diff - 1); // abs_diff_pic_num_minus1
  w.ue(MODIFY_END);
}

/** §7.3.3: the whole header of a one-slice P picture. */
function writeSliceHeader(w: BitWriter, plan: SkipPicturePlan, index: number): void {
  const { sps, pps } = plan;
  const { frameNum, poc } = numbering(plan, index);
  w.ue(0); // first_mb_in_slice
  w.ue(SLICE_TYPE_P_ALL);
  w.ue(pps.ppsId);
  w.u(sps.log2MaxFrameNum, frameNum);
  // frame_mbs_only_flag 1: no field_pic_flag; not an IDR: no idr_pic_id.
  if (sps.picOrderCntType === 0) {
    const bits = sps.log2MaxPicOrderCntLsb as number;
    w.u(bits, mod(poc, 2 ** bits));
    if (pps.bottomFieldPicOrderInFramePresent) w.se(0); // delta_pic_order_cnt_bottom: both fields alike
  }
  if (pps.redundantPicCntPresent) w.ue(0); // redundant_pic_cnt: the primary picture
  w.flag(true); // num_ref_idx_active_override_flag: one reference, whatever the PPS default
  w.ue(0); // num_ref_idx_l0_active_minus1
  writeRefPicListModification(w, plan, index, frameNum);
  if (pps.weightedPred) {
    // §7.3.3.2 with denominators 0 and no explicit weights: LumaWeightL0 = 1, offset 0.
    w.ue(0); // luma_log2_weight_denom
    if (sps.chromaFormatIdc !== 0) w.ue(0); // chroma_log2_weight_denom
    w.flag(false); // luma_weight_l0_flag[0]
    if (sps.chromaFormatIdc !== 0) w.flag(false); // chroma_weight_l0_flag[0]
  }
  w.flag(false); // dec_ref_pic_marking: adaptive_ref_pic_marking_mode_flag 0, sliding window
  if (pps.entropyCodingMode) w.ue(CABAC_INIT_IDC);
  w.se(0); // slice_qp_delta
  if (pps.deblockingFilterControlPresent) w.ue(DEBLOCKING_OFF);
}

/**
 * Filler picture `index` of a run (0 = right after the last real picture) as one NAL unit
 * with its header. Pictures must be sent in index order, with nothing between them.
 */
export function buildSkipPicture(plan: SkipPicturePlan, index: number): Buffer {
  if (!Number.isInteger(index) || index < 0) throw new RangeError(`skip picture index ${index}`);
  const w = new BitWriter(32 + (plan.cabacSliceData?.length ?? 0));
  writeSliceHeader(w, plan, index);
  if (plan.cabacSliceData !== null) {
    w.alignWith(true); // cabac_alignment_one_bit
    w.copyBits(plan.cabacSliceData, 0, plan.cabacSliceData.length * 8);
  } else {
    w.ue(plan.picSizeInMbs); // mb_skip_run: the whole picture; more_rbsp_data() is then false
    w.u(1, 1); // rbsp_stop_one_bit
    w.alignWith(false);
  }
  const payload = rbspToNal(w.toBuffer());
  const out = Buffer.allocUnsafe(1 + payload.length);
  out[0] = (SKIP_NAL_REF_IDC << 5) | NalType.SLICE;
  payload.copy(out, 1);
  return out;
}

/** The state after `count` filler pictures: a later run (or renumbering) continues from it. */
export function skipPictureStateAfter(plan: SkipPicturePlan, count: number): SkipPictureState {
  if (count === 0) return { ...plan.state };
  const { frameNum, poc } = numbering(plan, count - 1);
  return { prevRefFrameNum: frameNum, sourceFrameNum: frameNum, prevRefPoc: poc, maxPoc: poc };
}

/**
 * Follows a stream's pictures (decode order, each by its first slice header) to know where a
 * filler run would start. The sliding window is modelled (§8.2.5.3: the last
 * max_num_ref_frames references); memory_management_control_operation is not read, so an
 * encoder that drops its newest reference early would mislead it (x264 drops only pyramid B
 * references, never the one shown last).
 */
export class SkipPictureTracker {
  private readonly poc = new PocCounter();
  /** Short-term references the sliding window keeps, oldest first. */
  private refs: Array<{ frameNum: number; poc: number }> = [];
  private prevRefFrameNum = 0;
  private prevRefPoc = 0;
  private maxPoc = 0;
  private sinceIdr = false;

  picture(header: SliceHeader, sps: Sps): void {
    const poc = this.poc.next(header, sps) ?? 0;
    if (header.nalType === NalType.IDR) {
      this.refs = [];
      this.maxPoc = poc;
      this.sinceIdr = true;
    } else {
      this.maxPoc = Math.max(this.maxPoc, poc);
    }
    if (header.nalRefIdc === 0) return;
    this.prevRefFrameNum = header.frameNum;
    this.prevRefPoc = poc;
    this.refs.push({ frameNum: header.frameNum, poc });
    while (this.refs.length > Math.max(1, sps.maxNumRefFrames)) this.refs.shift();
  }

  /** Where a filler run would start now; null before the first IDR (numbering unknown). */
  state(): SkipPictureState | null {
    if (!this.sinceIdr || this.refs.length === 0) return null;
    let source = this.refs[0] as { frameNum: number; poc: number };
    for (const r of this.refs) if (r.poc > source.poc) source = r;
    return {
      prevRefFrameNum: this.prevRefFrameNum,
      sourceFrameNum: source.frameNum,
      prevRefPoc: this.prevRefPoc,
      maxPoc: this.maxPoc,
    };
  }
}
