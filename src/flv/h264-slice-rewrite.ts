/**
 * Slice header rewriting: ITU-T H.264 §7.3.3 (slice_header), §7.3.3.3 (dec_ref_pic_marking),
 * §7.3.4 (cabac_alignment_one_bit before slice_data) and §7.4.1 (emulation prevention).
 *
 * Three changes, none touching a macroblock:
 * - renumber: a new frame_num and pic_order_cnt_lsb. Both are fixed-width u(v) fields, so the
 *   header keeps its length and the rest of the NAL unit is copied as it was.
 * - demote: an IDR slice (nal_unit_type 5) becomes a non-IDR I slice (type 1): idr_pic_id is
 *   removed and dec_ref_pic_marking becomes "sliding window". An I slice predicts nothing
 *   from other pictures, so it decodes to the same picture; only the decoder's reference
 *   bookkeeping changes. For CABAC the slice data starts byte aligned after the header, so
 *   it is copied byte for byte; for CAVLC it is copied bit for bit at its new offset.
 * - new idr_pic_id: an IDR sent again (the gap filler) must not share the id of the IDR
 *   before it (§7.4.3). The field is ue(v), so the rest is re-laid as for a demotion.
 *
 * Unsupported cases throw MediaFormatError (H264_SLICE) and the caller leaves the slice alone:
 * field coding, slice groups (FMO), SI slices, long-term reference IDRs, POC type 1 demotion.
 */
import { BitReader, nalToRbsp, rbspStopBitPosition } from './bit-reader.js';
import { BitWriter, rbspToNal } from './bit-writer.js';
import { MediaFormatError, MediaFormatErrorCode } from './errors.js';
import type { Pps } from './h264-pps.js';
import type { Sps } from './h264-sps.js';

/** §7.4.1.2: nal_unit_type of a non-IDR slice and of an IDR slice. */
const NAL_SLICE = 1;
const NAL_IDR = 5;
/** §7.4.3 Table 7-6: slice_type % 5 of an I slice. */
const SLICE_TYPE_I = 2;
/** §7.4.3: idr_pic_id is in 0..65535. */
const MAX_IDR_PIC_ID = 65535;

export interface SliceRewrite {
  /** frame_num to write (same width as the SPS gives). */
  frameNum: number;
  /** pic_order_cnt_lsb to write (POC type 0); null keeps it. */
  picOrderCntLsb: number | null;
  /** Rewrite an IDR slice as a non-IDR I slice. */
  demoteIdr: boolean;
  /** An IDR slice kept as one: this idr_pic_id instead of its own (a re-sent IDR). */
  idrPicId?: number;
}

function unsupported(message: string): MediaFormatError {
  return new MediaFormatError(MediaFormatErrorCode.H264_SLICE, message);
}

function copyUe(r: BitReader, w: BitWriter): number {
  const v = r.ue();
  w.ue(v);
  return v;
}

function copySe(r: BitReader, w: BitWriter): void {
  w.se(r.se());
}

/** Rewrite one slice NAL unit (types 1 and 5) with the SPS and PPS it refers to. */
export function rewriteSlice(nal: Buffer, sps: Sps, pps: Pps, change: SliceRewrite): Buffer {
  const nalHeader = nal[0] as number;
  const type = nalHeader & 0x1f;
  if (nal.length < 2 || (type !== NAL_SLICE && type !== NAL_IDR)) throw unsupported('not a slice NAL unit');
  if (change.demoteIdr && type !== NAL_IDR) throw unsupported('only an IDR slice can be demoted');
  if (pps.numSliceGroups > 1) throw unsupported('slice groups (FMO)');
  if (change.frameNum < 0 || change.frameNum >= 2 ** sps.log2MaxFrameNum)
    throw unsupported(`frame_num ${change.frameNum} out of range`);
  const rbsp = nalToRbsp(nal.subarray(1));
  const r = new BitReader(rbsp);
  const w = new BitWriter(rbsp.length + 8);

  copyUe(r, w); // first_mb_in_slice
  const sliceType = copyUe(r, w);
  copyUe(r, w); // pic_parameter_set_id
  if (sps.separateColourPlane) w.u(2, r.u(2));
  r.u(sps.log2MaxFrameNum);
  w.u(sps.log2MaxFrameNum, change.frameNum);
  if (!sps.frameMbsOnly) {
    const fieldPic = r.flag();
    if (fieldPic) throw unsupported('field pictures');
    w.flag(false);
  }
  // A new idr_pic_id may change the header's length (ue(v)): the rest is then re-laid like a demotion's.
  const newIdrPicId = type === NAL_IDR && !change.demoteIdr ? change.idrPicId : undefined;
  if (newIdrPicId !== undefined && (!Number.isInteger(newIdrPicId) || newIdrPicId < 0 || newIdrPicId > MAX_IDR_PIC_ID))
    throw unsupported(`idr_pic_id ${newIdrPicId} out of range`);
  if (type === NAL_IDR) {
    const idrPicId = r.ue();
    if (!change.demoteIdr) w.ue(newIdrPicId ?? idrPicId);
  }
  if (sps.picOrderCntType === 0) {
    const bits = sps.log2MaxPicOrderCntLsb as number;
    const lsb = r.u(bits);
    w.u(bits, change.picOrderCntLsb ?? lsb);
    if (pps.bottomFieldPicOrderInFramePresent) copySe(r, w); // delta_pic_order_cnt_bottom
  } else if (sps.picOrderCntType === 1 && !sps.deltaPicOrderAlwaysZero) {
    if (change.demoteIdr) throw unsupported('demotion with pic_order_cnt_type 1');
    copySe(r, w);
    if (pps.bottomFieldPicOrderInFramePresent) copySe(r, w);
  }

  if (change.demoteIdr || newIdrPicId !== undefined) {
    idrRest(r, w, rbsp, sliceType, pps, change.demoteIdr);
  } else {
    // Same field widths: everything after is copied as it was.
    w.copyBits(rbsp, r.bitPosition, rbsp.length * 8);
  }
  const payload = rbspToNal(w.toBuffer());
  const out = Buffer.allocUnsafe(1 + payload.length);
  out[0] = change.demoteIdr ? (nalHeader & 0xe0) | NAL_SLICE : nalHeader;
  payload.copy(out, 1);
  return out;
}

/**
 * The rest of an IDR I slice after pic_order_cnt, at a new bit offset: the marking (made
 * sliding window when `demote`, else as it was), then the slice data.
 */
function idrRest(r: BitReader, w: BitWriter, rbsp: Buffer, sliceType: number, pps: Pps, demote: boolean): void {
  if (sliceType % 5 !== SLICE_TYPE_I) throw unsupported(`IDR slice of type ${sliceType} (not I)`);
  if (pps.redundantPicCntPresent === null || pps.deblockingFilterControlPresent === null)
    throw unsupported('PPS not fully known');
  if (pps.redundantPicCntPresent) copyUe(r, w); // redundant_pic_cnt
  // An I slice has no direct_spatial_mv_pred, num_ref_idx_override, ref_pic_list_modification
  // or pred_weight_table. dec_ref_pic_marking (nal_ref_idc is never 0 for an IDR):
  const noOutputOfPriorPics = r.flag();
  if (r.flag()) throw unsupported('IDR marked as a long-term reference');
  if (demote) {
    w.flag(false); // adaptive_ref_pic_marking_mode_flag: sliding window
  } else {
    w.flag(noOutputOfPriorPics);
    w.flag(false); // long_term_reference_flag
  }
  if (!pps.entropyCodingMode) {
    // CAVLC: slice_data follows at bit level; copy through the stop bit, then align.
    w.copyBits(rbsp, r.bitPosition, rbspStopBitPosition(rbsp) + 1);
    w.alignWith(false);
  } else {
    copySe(r, w); // slice_qp_delta
    if (pps.deblockingFilterControlPresent) {
      const idc = copyUe(r, w); // disable_deblocking_filter_idc
      if (idc !== 1) {
        copySe(r, w); // slice_alpha_c0_offset_div2
        copySe(r, w); // slice_beta_offset_div2
      }
    }
    while (!r.byteAligned) {
      if (r.u(1) !== 1) throw unsupported('cabac_alignment_one_bit is 0');
    }
    w.alignWith(true);
    w.copyBits(rbsp, r.bitPosition, rbsp.length * 8);
  }
}
