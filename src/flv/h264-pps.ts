/**
 * H.264 picture parameter set, first fields only: ITU-T H.264 §7.3.2.2 (up to
 * bottom_field_pic_order_in_frame_present_flag), enough to find a slice's SPS.
 */
import { BitReader, nalToRbsp } from './bit-reader.js';
import { MediaFormatError, MediaFormatErrorCode } from './errors.js';

export interface Pps {
  ppsId: number;
  spsId: number;
  entropyCodingMode: boolean;
  bottomFieldPicOrderInFramePresent: boolean;
}

export function parsePps(nal: Buffer): Pps {
  if (nal.length < 2 || ((nal[0] as number) & 0x1f) !== 8) {
    throw new MediaFormatError(MediaFormatErrorCode.H264_PPS, 'not a PPS NAL unit');
  }
  const r = new BitReader(nalToRbsp(nal.subarray(1)));
  const ppsId = r.ue();
  const spsId = r.ue();
  if (ppsId > 255 || spsId > 31) {
    throw new MediaFormatError(MediaFormatErrorCode.H264_PPS, `pic_parameter_set_id ${ppsId} / seq_parameter_set_id ${spsId} out of range`);
  }
  return { ppsId, spsId, entropyCodingMode: r.flag(), bottomFieldPicOrderInFramePresent: r.flag() };
}
