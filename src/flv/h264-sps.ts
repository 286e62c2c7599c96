/**
 * H.264 sequence parameter set: ITU-T H.264 §7.3.2.1.1 (seq_parameter_set_data),
 * §7.4.2.1.1 (semantics: frame size and cropping), §E.1.1 (VUI: timing, bitstream
 * restriction) and §E.1.2 (HRD parameters, skipped over).
 */
import { BitReader, nalToRbsp } from './bit-reader.js';
import { MediaFormatError, MediaFormatErrorCode } from './errors.js';

/** §7.3.2.1.1: profiles that carry chroma_format_idc, bit depths and scaling matrices. */
const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);
/** §E.2.1: aspect_ratio_idc value announcing an explicit sar_width/sar_height. */
const EXTENDED_SAR = 255;
/** A sanity bound on picture size in macroblocks per side (8192 pixels). */
const MAX_MBS_PER_SIDE = 512;

export interface SpsVui {
  aspectRatio: [number, number] | null;
  timingInfoPresent: boolean;
  numUnitsInTick: number;
  timeScale: number;
  fixedFrameRate: boolean;
  /** Frames per second from the timing info (time_scale / (2 * num_units_in_tick)), or null. */
  fps: number | null;
  bitstreamRestriction: boolean;
  /** null when the VUI has no bitstream restriction. */
  maxNumReorderFrames: number | null;
  maxDecFrameBuffering: number | null;
}

export interface Sps {
  profileIdc: number;
  /** constraint_set0..5 flags and the reserved bits, as one byte. */
  constraintFlags: number;
  levelIdc: number;
  spsId: number;
  chromaFormatIdc: number;
  separateColourPlane: boolean;
  bitDepthLuma: number;
  bitDepthChroma: number;
  log2MaxFrameNum: number;
  picOrderCntType: number;
  /** Only for pic_order_cnt_type 0. */
  log2MaxPicOrderCntLsb: number | null;
  deltaPicOrderAlwaysZero: boolean;
  maxNumRefFrames: number;
  frameMbsOnly: boolean;
  mbAdaptiveFrameField: boolean;
  direct8x8Inference: boolean;
  codedWidth: number;
  codedHeight: number;
  crop: { left: number; right: number; top: number; bottom: number };
  /** Display size after cropping, in pixels. */
  width: number;
  height: number;
  vui: SpsVui | null;
  /** Where two rewritable fields sit in the RBSP (after the NAL header), as [start, end) bit offsets. */
  fieldBits: { maxNumRefFrames: [number, number]; maxDecFrameBuffering: [number, number] | null };
}

function spsError(message: string): MediaFormatError {
  return new MediaFormatError(MediaFormatErrorCode.H264_SPS, message);
}

function skipScalingList(r: BitReader, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) next = (last + r.se() + 256) % 256;
    last = next === 0 ? last : next;
  }
}

function skipHrd(r: BitReader): void {
  const cpbCount = r.ue() + 1;
  if (cpbCount > 32) throw spsError(`HRD cpb_cnt ${cpbCount} over 32`);
  r.skip(8); // bit_rate_scale, cpb_size_scale
  for (let i = 0; i < cpbCount; i++) {
    r.ue();
    r.ue();
    r.skip(1);
  }
  r.skip(20); // four 5-bit lengths
}

function parseVui(r: BitReader, bits: { maxDecFrameBuffering: [number, number] | null }): SpsVui {
  let aspectRatio: [number, number] | null = null;
  if (r.flag()) {
    const idc = r.u(8);
    if (idc === EXTENDED_SAR) aspectRatio = [r.u(16), r.u(16)];
    else aspectRatio = SAR_TABLE[idc] ?? null;
  }
  if (r.flag()) r.skip(1); // overscan
  if (r.flag()) {
    r.skip(4); // video_format, video_full_range
    if (r.flag()) r.skip(24); // colour description
  }
  if (r.flag()) {
    r.ue();
    r.ue();
  }
  const timingInfoPresent = r.flag();
  let numUnitsInTick = 0;
  let timeScale = 0;
  let fixedFrameRate = false;
  if (timingInfoPresent) {
    numUnitsInTick = r.u(32);
    timeScale = r.u(32);
    fixedFrameRate = r.flag();
  }
  const nalHrd = r.flag();
  if (nalHrd) skipHrd(r);
  const vclHrd = r.flag();
  if (vclHrd) skipHrd(r);
  if (nalHrd || vclHrd) r.skip(1); // low_delay_hrd_flag
  r.skip(1); // pic_struct_present_flag
  const bitstreamRestriction = r.flag();
  let maxNumReorderFrames: number | null = null;
  let maxDecFrameBuffering: number | null = null;
  if (bitstreamRestriction) {
    r.skip(1);
    r.ue();
    r.ue();
    r.ue();
    r.ue();
    maxNumReorderFrames = r.ue();
    const start = r.bitPosition;
    maxDecFrameBuffering = r.ue();
    bits.maxDecFrameBuffering = [start, r.bitPosition];
  }
  const fps = timingInfoPresent && numUnitsInTick > 0 ? timeScale / (2 * numUnitsInTick) : null;
  return {
    aspectRatio,
    timingInfoPresent,
    numUnitsInTick,
    timeScale,
    fixedFrameRate,
    fps,
    bitstreamRestriction,
    maxNumReorderFrames,
    maxDecFrameBuffering,
  };
}

/** §E.2.1 Table E-1: sample aspect ratios by aspect_ratio_idc. */
const SAR_TABLE: Record<number, [number, number]> = {
  1: [1, 1],
  2: [12, 11],
  3: [10, 11],
  4: [16, 11],
  5: [40, 33],
  6: [24, 11],
  7: [20, 11],
  8: [32, 11],
  9: [80, 33],
  10: [18, 11],
  11: [15, 11],
  12: [64, 33],
  13: [160, 99],
  14: [4, 3],
  15: [3, 2],
  16: [2, 1],
};

/** The fields the high profiles add after seq_parameter_set_id (§7.3.2.1.1), defaults otherwise. */
type ChromaFormat = Pick<Sps, 'chromaFormatIdc' | 'separateColourPlane' | 'bitDepthLuma' | 'bitDepthChroma'>;

function readChromaFormat(r: BitReader, profileIdc: number): ChromaFormat {
  let chromaFormatIdc = 1;
  let separateColourPlane = false;
  let bitDepthLuma = 8;
  let bitDepthChroma = 8;
  if (HIGH_PROFILES.has(profileIdc)) {
    chromaFormatIdc = r.ue();
    if (chromaFormatIdc > 3) throw spsError(`chroma_format_idc ${chromaFormatIdc}`);
    if (chromaFormatIdc === 3) separateColourPlane = r.flag();
    bitDepthLuma = r.ue() + 8;
    bitDepthChroma = r.ue() + 8;
    if (bitDepthLuma > 14 || bitDepthChroma > 14) throw spsError('bit depth over 14');
    r.skip(1); // qpprime_y_zero_transform_bypass_flag
    if (r.flag()) {
      const lists = chromaFormatIdc !== 3 ? 8 : 12;
      for (let i = 0; i < lists; i++) if (r.flag()) skipScalingList(r, i < 6 ? 16 : 64);
    }
  }
  return { chromaFormatIdc, separateColourPlane, bitDepthLuma, bitDepthChroma };
}

/** pic_order_cnt_type and what it brings (§7.3.2.1.1); type 1's cycle is skipped over. */
function readPicOrderCnt(
  r: BitReader,
): Pick<Sps, 'picOrderCntType' | 'log2MaxPicOrderCntLsb' | 'deltaPicOrderAlwaysZero'> {
  const picOrderCntType = r.ue();
  let log2MaxPicOrderCntLsb: number | null = null;
  let deltaPicOrderAlwaysZero = false;
  if (picOrderCntType === 0) {
    log2MaxPicOrderCntLsb = r.ue() + 4;
    if (log2MaxPicOrderCntLsb > 16) throw spsError(`log2_max_pic_order_cnt_lsb ${log2MaxPicOrderCntLsb}`);
  } else if (picOrderCntType === 1) {
    deltaPicOrderAlwaysZero = r.flag();
    r.se();
    r.se();
    const cycle = r.ue();
    if (cycle > 255) throw spsError(`num_ref_frames_in_pic_order_cnt_cycle ${cycle}`);
    for (let i = 0; i < cycle; i++) r.se();
  } else if (picOrderCntType !== 2) {
    throw spsError(`pic_order_cnt_type ${picOrderCntType}`);
  }
  return { picOrderCntType, log2MaxPicOrderCntLsb, deltaPicOrderAlwaysZero };
}

/** frame_cropping_flag and the offsets, in pixels (§7.4.2.1.1). */
function readCrop(r: BitReader, chroma: ChromaFormat, frameMbsOnly: boolean): Sps['crop'] {
  const crop = { left: 0, right: 0, top: 0, bottom: 0 };
  if (r.flag()) {
    // §7.4.2.1.1: crop units depend on chroma subsampling and field coding.
    const chromaArrayType = chroma.separateColourPlane ? 0 : chroma.chromaFormatIdc;
    const cropUnitX = chromaArrayType === 0 ? 1 : chromaArrayType === 3 ? 1 : 2;
    const cropUnitY = (chromaArrayType === 0 ? 1 : chromaArrayType === 1 ? 2 : 1) * (frameMbsOnly ? 1 : 2);
    crop.left = r.ue() * cropUnitX;
    crop.right = r.ue() * cropUnitX;
    crop.top = r.ue() * cropUnitY;
    crop.bottom = r.ue() * cropUnitY;
  }
  return crop;
}

/** Parse an SPS NAL unit (with its 1-byte NAL header). Throws MediaFormatError. */
export function parseSps(nal: Buffer): Sps {
  if (nal.length < 4 || ((nal[0] as number) & 0x1f) !== 7) throw spsError('not an SPS NAL unit');
  const r = new BitReader(nalToRbsp(nal.subarray(1)));
  const profileIdc = r.u(8);
  const constraintFlags = r.u(8);
  const levelIdc = r.u(8);
  const spsId = r.ue();
  if (spsId > 31) throw spsError(`seq_parameter_set_id ${spsId} over 31`);
  const chroma = readChromaFormat(r, profileIdc);
  const log2MaxFrameNum = r.ue() + 4;
  if (log2MaxFrameNum > 16) throw spsError(`log2_max_frame_num ${log2MaxFrameNum}`);
  const poc = readPicOrderCnt(r);
  const refStart = r.bitPosition;
  const maxNumRefFrames = r.ue();
  const fieldBits: Sps['fieldBits'] = { maxNumRefFrames: [refStart, r.bitPosition], maxDecFrameBuffering: null };
  r.skip(1); // gaps_in_frame_num_value_allowed_flag
  const widthMbs = r.ue() + 1;
  const heightMapUnits = r.ue() + 1;
  const frameMbsOnly = r.flag();
  const mbAdaptiveFrameField = frameMbsOnly ? false : r.flag();
  const direct8x8Inference = r.flag();
  const heightMbs = (frameMbsOnly ? 1 : 2) * heightMapUnits;
  if (widthMbs > MAX_MBS_PER_SIDE || heightMbs > MAX_MBS_PER_SIDE)
    throw spsError(`picture of ${widthMbs}x${heightMbs} macroblocks`);
  const crop = readCrop(r, chroma, frameMbsOnly);
  const codedWidth = widthMbs * 16;
  const codedHeight = heightMbs * 16;
  const width = codedWidth - crop.left - crop.right;
  const height = codedHeight - crop.top - crop.bottom;
  if (width <= 0 || height <= 0) throw spsError(`cropping leaves ${width}x${height}`);
  const vui = r.flag() ? parseVui(r, fieldBits) : null;
  return {
    profileIdc,
    constraintFlags,
    levelIdc,
    spsId,
    chromaFormatIdc: chroma.chromaFormatIdc,
    separateColourPlane: chroma.separateColourPlane,
    bitDepthLuma: chroma.bitDepthLuma,
    bitDepthChroma: chroma.bitDepthChroma,
    log2MaxFrameNum,
    picOrderCntType: poc.picOrderCntType,
    log2MaxPicOrderCntLsb: poc.log2MaxPicOrderCntLsb,
    deltaPicOrderAlwaysZero: poc.deltaPicOrderAlwaysZero,
    maxNumRefFrames,
    frameMbsOnly,
    mbAdaptiveFrameField,
    direct8x8Inference,
    codedWidth,
    codedHeight,
    crop,
    width,
    height,
    vui,
    fieldBits,
  };
}

/** Profile names as FFmpeg/ffprobe print them. */
export function profileName(profileIdc: number, constraintFlags: number): string {
  const set1 = (constraintFlags & 0x40) !== 0;
  const set3 = (constraintFlags & 0x10) !== 0;
  switch (profileIdc) {
    case 66:
      return set1 ? 'Constrained Baseline' : 'Baseline';
    case 77:
      return 'Main';
    case 88:
      return 'Extended';
    case 100:
      return 'High';
    case 110:
      return set3 ? 'High 10 Intra' : 'High 10';
    case 122:
      return set3 ? 'High 4:2:2 Intra' : 'High 4:2:2';
    case 244:
      return set3 ? 'High 4:4:4 Intra' : 'High 4:4:4 Predictive';
    case 44:
      return 'CAVLC 4:4:4';
    default:
      return `profile ${profileIdc}`;
  }
}

/** level_idc as a level name: 31 -> "3.1", 9 -> "1b". */
export function levelName(levelIdc: number): string {
  if (levelIdc === 9) return '1b';
  return levelIdc % 10 === 0 ? String(levelIdc / 10) : (levelIdc / 10).toFixed(1);
}
