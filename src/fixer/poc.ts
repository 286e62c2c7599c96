/**
 * Picture order count for pic_order_cnt_type 0: ITU-T H.264 §8.2.1.1. Used to give B-frames
 * sent with composition time 0 their display time back, without decoding a picture.
 * (Type 2 streams have display order = decode order, so CTS 0 is right for them; type 1 is
 * not handled and leads to a transcode decision.)
 */
import type { SliceHeader } from '../flv/h264-slice.js';
import type { Sps } from '../flv/h264-sps.js';

export class PocCounter {
  private prevMsb = 0;
  private prevLsb = 0;

  /** POC of the frame whose first slice header is `slice` (frames only, no field coding). */
  next(slice: SliceHeader, sps: Sps): number {
    const lsb = slice.picOrderCntLsb ?? 0;
    const maxLsb = 2 ** (sps.log2MaxPicOrderCntLsb ?? 4);
    if (slice.nalType === 5) {
      this.prevMsb = 0;
      this.prevLsb = 0;
    }
    let msb: number;
    if (lsb < this.prevLsb && this.prevLsb - lsb >= maxLsb / 2) msb = this.prevMsb + maxLsb;
    else if (lsb > this.prevLsb && lsb - this.prevLsb > maxLsb / 2) msb = this.prevMsb - maxLsb;
    else msb = this.prevMsb;
    // §8.2.1.1: only reference pictures update prevPicOrderCntMsb/Lsb.
    if (slice.nalRefIdc !== 0) {
      this.prevMsb = msb;
      this.prevLsb = lsb;
    }
    return msb + lsb;
  }
}
