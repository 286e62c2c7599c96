/**
 * H.264 slice header, up to pic_order_cnt_lsb: ITU-T H.264 §7.3.3 (slice_header) with
 * §7.4.3 semantics. Enough to tell I/P/B slices and IDRs apart and to recover display order
 * from POC when composition times are missing.
 */
import { BitReader, nalToRbsp } from './bit-reader.js';
import { MediaFormatError, MediaFormatErrorCode } from './errors.js';
import { parsePps, type Pps } from './h264-pps.js';
import { parseSps, type Sps } from './h264-sps.js';

/** §7.4.3 Table 7-6: slice_type % 5. */
const SLICE_KINDS = ['P', 'B', 'I', 'SP', 'SI'] as const;
export type SliceKind = (typeof SLICE_KINDS)[number];

export interface SliceHeader {
  nalType: number;
  nalRefIdc: number;
  firstMbInSlice: number;
  /** Raw slice_type 0..9 (5..9: every slice of the picture has this type). */
  sliceType: number;
  sliceKind: SliceKind;
  ppsId: number;
  colourPlaneId: number | null;
  frameNum: number;
  fieldPic: boolean;
  bottomField: boolean;
  idrPicId: number | null;
  picOrderCntLsb: number | null;
}

function sliceError(message: string): MediaFormatError {
  return new MediaFormatError(MediaFormatErrorCode.H264_SLICE, message);
}

/** Parse the header of a slice NAL unit (types 1 and 5) with its SPS. */
export function parseSliceHeader(nal: Buffer, sps: Sps): SliceHeader {
  const header = nal[0];
  const type = (header ?? 0) & 0x1f;
  if (header === undefined || (type !== 1 && type !== 5)) throw sliceError('not a slice NAL unit');
  // Only the first bytes are needed: unescape a bounded prefix, not the whole slice.
  const r = new BitReader(nalToRbsp(nal.subarray(1, 65)));
  const firstMbInSlice = r.ue();
  const sliceType = r.ue();
  if (sliceType > 9) throw sliceError(`slice_type ${sliceType}`);
  const ppsId = r.ue();
  const colourPlaneId = sps.separateColourPlane ? r.u(2) : null;
  const frameNum = r.u(sps.log2MaxFrameNum);
  let fieldPic = false;
  let bottomField = false;
  if (!sps.frameMbsOnly) {
    fieldPic = r.flag();
    if (fieldPic) bottomField = r.flag();
  }
  const idrPicId = type === 5 ? r.ue() : null;
  const picOrderCntLsb = sps.picOrderCntType === 0 ? r.u(sps.log2MaxPicOrderCntLsb as number) : null;
  return {
    nalType: type,
    nalRefIdc: (header >> 5) & 3,
    firstMbInSlice,
    sliceType,
    sliceKind: SLICE_KINDS[sliceType % 5] as SliceKind,
    ppsId,
    colourPlaneId,
    frameNum,
    fieldPic,
    bottomField,
    idrPicId,
    picOrderCntLsb,
  };
}

/** The SPS/PPS seen so far, so a slice header can be read with the right SPS. */
export class ParameterSets {
  private readonly sps = new Map<number, Sps>();
  private readonly pps = new Map<number, Pps>();

  addSps(nal: Buffer): Sps {
    const sps = parseSps(nal);
    this.sps.set(sps.spsId, sps);
    return sps;
  }

  addPps(nal: Buffer): Pps {
    const pps = parsePps(nal);
    this.pps.set(pps.ppsId, pps);
    return pps;
  }

  ppsById(ppsId: number): Pps | undefined {
    return this.pps.get(ppsId);
  }

  spsForPps(ppsId: number): Sps | undefined {
    const pps = this.pps.get(ppsId);
    return pps === undefined ? undefined : this.sps.get(pps.spsId);
  }

  /** Read a slice header, finding its SPS through the PPS id it names. */
  sliceHeader(nal: Buffer): SliceHeader {
    // The PPS id is the third ue(v); read it first without knowing the SPS.
    const r = new BitReader(nalToRbsp(nal.subarray(1, 17)));
    r.ue();
    r.ue();
    const ppsId = r.ue();
    const sps = this.spsForPps(ppsId);
    if (sps === undefined) throw sliceError(`slice names PPS ${ppsId}, which is unknown`);
    return parseSliceHeader(nal, sps);
  }
}
