/**
 * IDR demotion: the GOP policy's answer to all-intra streams. An IDR that comes sooner than
 * the target keyframe interval after the last kept one is rewritten as a non-IDR I picture
 * (h264-slice-rewrite.ts), so every reader, not only those that trust the FLV flag, sees a
 * GOP of the target length. The pictures decode to the same pixels: an I slice predicts
 * nothing from other pictures.
 *
 * A demoted IDR no longer resets the decoder's numbering, so it and the pictures after it
 * (until the next kept IDR) get frame_num continued from the last reference picture
 * (§7.4.3: frame_num counts reference pictures modulo MaxFrameNum) and, for POC type 0, a
 * pic_order_cnt_lsb that keeps counting up from the highest POC so far (§8.2.1.1), so the
 * output order is unchanged. POC type 2 follows frame_num by itself.
 */
import { MediaFormatError, MediaFormatErrorCode } from '../flv/errors.js';
import type { ParameterSets, SliceHeader } from '../flv/h264-slice.js';
import { rewriteSlice } from '../flv/h264-slice-rewrite.js';
import { nalType, NalType } from '../flv/nal-units.js';
import { PocCounter } from '../flv/h264-poc.js';

/** x264 and MediaCodec count POC in steps of 2 per frame; the gap left after a demoted IDR's predecessor. */
const POC_STEP = 2;

export interface DemotionResult {
  /** The NAL units to send: rewritten, or the input array when nothing changed. */
  nals: Buffer[];
  /** The frame was an IDR and is now a non-IDR I picture. */
  demoted: boolean;
  /** Slices were renumbered (frame_num / POC) because an earlier IDR was demoted. */
  renumbered: boolean;
  /** Why a demotion that was asked for did not happen. */
  refusedBecause: string | null;
}

export class IdrDemoter {
  private readonly params: ParameterSets;
  private readonly poc = new PocCounter();
  /** frame_num written for the last reference picture. */
  private lastRefFrameNum = 0;
  /** Highest POC written since the last kept IDR (type 0). */
  private maxPoc = 0;
  /** Added to frame_num and POC while the current GOP started with a demoted IDR. */
  private frameNumBase = 0;
  private pocBase = 0;
  private rewriting = false;
  /** Numbering unknown (an unreadable slice) until the next kept IDR: demote nothing. */
  private lost = true;
  /** The last picture's frame_num as it came (before renumbering), -1 before any; and whether it was a reference. */
  private lastSourceFrameNum = -1;
  private lastSourceRef = false;

  constructor(params: ParameterSets) {
    this.params = params;
  }

  /**
   * Every output video frame in decode order. `demote` asks that an IDR become a non-IDR I
   * picture; frames after a demoted IDR are renumbered whatever `demote` says.
   */
  frame(nals: Buffer[], idr: boolean, demote: boolean): DemotionResult {
    const unchanged = (refusedBecause: string | null = null): DemotionResult => ({
      nals,
      demoted: false,
      renumbered: false,
      refusedBecause,
    });
    const first = nals.find((n) => {
      const t = nalType(n);
      return t === NalType.IDR || t === NalType.SLICE;
    });
    if (first === undefined) return unchanged(demote ? 'no slice' : null);
    let header: SliceHeader;
    try {
      header = this.params.sliceHeader(first);
    } catch (err) {
      // An unreadable IDR still resets the decoder; an unreadable picture loses the count.
      if (idr) this.keepIdr(0, 0);
      else this.lost = true;
      return unchanged(demote ? (err as Error).message : null);
    }
    const pps = this.params.ppsById(header.ppsId);
    const sps = this.params.spsForPps(header.ppsId);
    if (pps === undefined || sps === undefined) return unchanged(demote ? 'unknown PPS' : null);
    const sourcePoc = sps.picOrderCntType === 0 ? (this.poc.next(header, sps) ?? 0) : 0;
    const maxFrameNum = 2 ** sps.log2MaxFrameNum;
    this.lastSourceFrameNum = header.frameNum;
    this.lastSourceRef = header.nalRefIdc !== 0;

    if (idr) {
      let refusal: string | null = null;
      if (demote) {
        if (this.lost) refusal = 'picture numbering unknown since the last kept IDR';
        else if (!sps.frameMbsOnly) refusal = 'field coding';
        else if (sps.picOrderCntType === 1) refusal = 'pic_order_cnt_type 1';
      }
      if (!demote || refusal !== null) {
        this.keepIdr(header.frameNum, sourcePoc);
        return unchanged(refusal);
      }
      const frameNumBase = (this.lastRefFrameNum + 1) % maxFrameNum;
      const pocBase = this.maxPoc + POC_STEP - sourcePoc;
      const rewritten = this.rewrite(nals, header, sourcePoc, frameNumBase, pocBase, maxFrameNum, true);
      if (rewritten instanceof MediaFormatError) {
        this.keepIdr(header.frameNum, sourcePoc);
        return unchanged(rewritten.message);
      }
      this.frameNumBase = frameNumBase;
      this.pocBase = pocBase;
      this.rewriting = true;
      return { nals: rewritten, demoted: true, renumbered: true, refusedBecause: null };
    }

    if (!this.rewriting) {
      if (header.nalRefIdc !== 0) this.lastRefFrameNum = header.frameNum;
      this.maxPoc = Math.max(this.maxPoc, sourcePoc);
      return unchanged();
    }
    const rewritten = this.rewrite(nals, header, sourcePoc, this.frameNumBase, this.pocBase, maxFrameNum, false);
    if (rewritten instanceof MediaFormatError) {
      // Cannot happen for a stream that parsed this far; if it does, the GOP is broken until
      // the next kept IDR either way. Demote nothing more until then.
      this.lost = true;
      return unchanged();
    }
    return { nals: rewritten, demoted: false, renumbered: true, refusedBecause: null };
  }

  /**
   * A picture the fixer wrote itself (the gap filler: a re-sent IDR, or a skipped P, both
   * references), numbered `frameNum` and `poc` as written: later pictures count on from it.
   */
  written(frameNum: number, poc: number, idr: boolean): void {
    if (idr) {
      this.keepIdr(frameNum, poc);
      return;
    }
    this.lastRefFrameNum = frameNum;
    this.maxPoc = Math.max(this.maxPoc, poc);
  }

  /**
   * The frame_num a reference picture that continues the last one as it came would carry;
   * null while the numbering is unknown or the last picture was not a reference.
   */
  nextSourceFrameNum(maxFrameNum: number): number | null {
    if (this.lost || this.lastSourceFrameNum < 0 || !this.lastSourceRef) return null;
    return (this.lastSourceFrameNum + 1) % maxFrameNum;
  }

  /**
   * The pictures that follow continue after `frames` reference pictures the fixer wrote
   * itself (a filled gap the same encoder session resumes from): their frame_num moves on by
   * `frames`, their POC by `pocDelta`, until the next kept IDR. False when the count is lost.
   */
  shift(frames: number, pocDelta: number): boolean {
    if (this.lost) return false;
    if (!this.rewriting) {
      this.frameNumBase = 0;
      this.pocBase = 0;
    }
    this.rewriting = true;
    this.frameNumBase += frames;
    this.pocBase += pocDelta;
    return true;
  }

  private keepIdr(frameNum: number, poc: number): void {
    this.rewriting = false;
    this.lost = false;
    this.lastRefFrameNum = frameNum;
    this.maxPoc = poc;
  }

  /** Rewrite every slice of a picture; the state moves only when all slices succeed. */
  private rewrite(
    nals: Buffer[],
    header: SliceHeader,
    sourcePoc: number,
    frameNumBase: number,
    pocBase: number,
    maxFrameNum: number,
    demote: boolean,
  ): Buffer[] | MediaFormatError {
    const frameNum = (header.frameNum + frameNumBase) % maxFrameNum;
    const poc = sourcePoc + pocBase;
    const out: Buffer[] = [];
    try {
      for (const nal of nals) {
        const t = nalType(nal);
        if (t !== NalType.IDR && t !== NalType.SLICE) {
          out.push(nal);
          continue;
        }
        const slice = this.params.sliceHeader(nal);
        const sps = this.params.spsForPps(slice.ppsId);
        const pps = this.params.ppsById(slice.ppsId);
        if (sps === undefined || pps === undefined)
          return new MediaFormatError(MediaFormatErrorCode.H264_SLICE, 'unknown PPS');
        const lsb = sps.picOrderCntType === 0 ? poc % 2 ** (sps.log2MaxPicOrderCntLsb as number) : null;
        out.push(rewriteSlice(nal, sps, pps, { frameNum, picOrderCntLsb: lsb, demoteIdr: demote }));
      }
    } catch (err) {
      if (err instanceof MediaFormatError) return err;
      throw err;
    }
    if (header.nalRefIdc !== 0) this.lastRefFrameNum = frameNum;
    this.maxPoc = Math.max(this.maxPoc, poc);
    return out;
  }
}
