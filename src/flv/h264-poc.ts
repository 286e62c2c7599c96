/**
 * Picture order count per frame: ITU-T H.264 §8.2.1. Type 0 from pic_order_cnt_lsb with its
 * MSB wrap (§8.2.1.1), type 2 in decode order; type 1 is not counted (null). Frames only, no
 * field coding. The fixer gives B-frames sent with composition time 0 their display time
 * back from it, and renumbers pictures after a demoted IDR; inspect and the tests judge
 * presentation order by it.
 */
import type { SliceHeader } from './h264-slice.js';
import type { Sps } from './h264-sps.js';

export class PocCounter {
  private prevMsb = 0;
  private prevLsb = 0;
  private decodeIndex = 0;

  /** The POC of the frame whose first slice header is `slice`, or null when it cannot be known. */
  next(slice: SliceHeader, sps: Sps): number | null {
    if (slice.nalType === 5) {
      this.prevMsb = 0;
      this.prevLsb = 0;
      this.decodeIndex = 0;
    }
    const index = this.decodeIndex++;
    // Type 2: output order is decode order.
    if (sps.picOrderCntType === 2) return 2 * index;
    if (sps.picOrderCntType !== 0 || slice.picOrderCntLsb === null || sps.log2MaxPicOrderCntLsb === null) return null;
    const maxLsb = 2 ** sps.log2MaxPicOrderCntLsb;
    const lsb = slice.picOrderCntLsb;
    let msb = this.prevMsb;
    if (lsb < this.prevLsb && this.prevLsb - lsb >= maxLsb / 2) msb += maxLsb;
    else if (lsb > this.prevLsb && lsb - this.prevLsb > maxLsb / 2) msb -= maxLsb;
    // §8.2.1.1: only reference pictures move prevPicOrderCntMsb/Lsb.
    if (slice.nalRefIdc !== 0) {
      this.prevMsb = msb;
      this.prevLsb = lsb;
    }
    return msb + lsb;
  }
}
