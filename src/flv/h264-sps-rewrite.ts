/**
 * SPS rewriting: ITU-T H.264 §7.3.2.1.1 (max_num_ref_frames), §E.1.1 (max_dec_frame_buffering)
 * and Annex A Table A-1 (MaxDpbMbs per level).
 *
 * One change: raise max_num_ref_frames (and max_dec_frame_buffering with it). A decoder then
 * keeps more reference pictures than the stream uses; every picture decodes the same. The
 * fixer does it for streams whose IDRs it demotes: with a single reference frame FFmpeg's
 * H.264 parser calls every I picture a keyframe (it cannot be predicted across), so a
 * demoted IDR would still look like a GOP boundary to FFmpeg-based readers.
 */
import { nalToRbsp, rbspStopBitPosition } from './bit-reader.js';
import { BitWriter, rbspToNal } from './bit-writer.js';
import { MediaFormatError, MediaFormatErrorCode } from './errors.js';
import { parseSps, type Sps } from './h264-sps.js';

/** Table A-1: MaxDpbMbs by level_idc (level 1b as 9; 11 with constraint_set3 is also 1b). */
const MAX_DPB_MBS: Record<number, number> = {
  9: 396,
  10: 396,
  11: 900,
  12: 2376,
  13: 2376,
  20: 2376,
  21: 4752,
  22: 8100,
  30: 8100,
  31: 18000,
  32: 20480,
  40: 32768,
  41: 32768,
  42: 34816,
  50: 110400,
  51: 184320,
  52: 184320,
  60: 696320,
  61: 696320,
  62: 696320,
};
/** §A.3.1: a DPB never holds more than 16 frames. */
const MAX_DPB_FRAMES_CAP = 16;

/** MaxDpbFrames for this SPS's level and picture size (§A.3.1 item h), or null for an unknown level. */
export function maxDpbFrames(sps: Sps): number | null {
  const mbs = MAX_DPB_MBS[sps.levelIdc];
  if (mbs === undefined) return null;
  return Math.min(Math.floor(mbs / ((sps.codedWidth / 16) * (sps.codedHeight / 16))), MAX_DPB_FRAMES_CAP);
}

/**
 * The SPS with max_num_ref_frames raised to at least `minRefFrames`; the input itself when it
 * already is. Throws MediaFormatError when the level does not allow that many frames.
 */
export function raiseMaxNumRefFrames(nal: Buffer, minRefFrames: number): Buffer {
  const sps = parseSps(nal);
  if (sps.maxNumRefFrames >= minRefFrames) return nal;
  const dpb = maxDpbFrames(sps);
  if (dpb === null || dpb < minRefFrames) {
    throw new MediaFormatError(
      MediaFormatErrorCode.H264_SPS,
      `level ${sps.levelIdc} allows ${dpb ?? 'unknown'} reference frames at ${sps.codedWidth}x${sps.codedHeight}`,
    );
  }
  const rbsp = nalToRbsp(nal.subarray(1));
  const w = new BitWriter(rbsp.length + 4);
  const [refStart, refEnd] = sps.fieldBits.maxNumRefFrames;
  w.copyBits(rbsp, 0, refStart);
  w.ue(minRefFrames);
  const dfb = sps.fieldBits.maxDecFrameBuffering;
  const end = rbspStopBitPosition(rbsp) + 1;
  if (dfb !== null && (sps.vui?.maxDecFrameBuffering ?? 0) < minRefFrames) {
    w.copyBits(rbsp, refEnd, dfb[0]);
    w.ue(minRefFrames);
    w.copyBits(rbsp, dfb[1], end);
  } else {
    w.copyBits(rbsp, refEnd, end);
  }
  w.alignWith(false);
  const payload = rbspToNal(w.toBuffer());
  const out = Buffer.allocUnsafe(1 + payload.length);
  out[0] = nal[0] as number;
  payload.copy(out, 1);
  return out;
}
