/**
 * CABAC arithmetic encoding: ITU-T H.264 §9.3.1.1 (context variables from m, n and SliceQPY),
 * §9.3.4.1 (InitEncoder), §9.3.4.2 (EncodeDecision), §9.3.4.3 (RenormE, PutBit), §9.3.4.5
 * (EncodeTerminate, EncodeFlush), with the tables of §9.3.3.2.1 (Table 9-44 rangeTabLPS,
 * Table 9-45 state transitions). Bypass bins are not written: nothing here needs them.
 *
 * Bits go to a BitWriter, so the slice header and the slice data share one RBSP.
 */
import type { BitWriter } from './bit-writer.js';
import { MediaFormatError, MediaFormatErrorCode } from './errors.js';

/** Table 9-44: codIRangeLPS by pStateIdx (rows) and qCodIRangeIdx (columns), row-major. */
const RANGE_TAB_LPS = Uint16Array.from([
  128, 176, 208, 240, 128, 167, 197, 227, 128, 158, 187, 216, 123, 150, 178, 205, 116, 142, 169, 195, 111, 135, 160,
  185, 105, 128, 152, 175, 100, 122, 144, 166, 95, 116, 137, 158, 90, 110, 130, 150, 85, 104, 123, 142, 81, 99, 117,
  135, 77, 94, 111, 128, 73, 89, 105, 122, 69, 85, 100, 116, 66, 80, 95, 110, 62, 76, 90, 104, 59, 72, 86, 99, 56, 69,
  81, 94, 53, 65, 77, 89, 51, 62, 73, 85, 48, 59, 69, 80, 46, 56, 66, 76, 43, 53, 63, 72, 41, 50, 59, 69, 39, 48, 56,
  65, 37, 45, 54, 62, 35, 43, 51, 59, 33, 41, 48, 56, 32, 39, 46, 53, 30, 37, 43, 50, 29, 35, 41, 48, 27, 33, 39, 45,
  26, 31, 37, 43, 24, 30, 35, 41, 23, 28, 33, 39, 22, 27, 32, 37, 21, 26, 30, 35, 20, 24, 29, 33, 19, 23, 27, 31, 18,
  22, 26, 30, 17, 21, 25, 28, 16, 20, 23, 27, 15, 19, 22, 25, 14, 18, 21, 24, 14, 17, 20, 23, 13, 16, 19, 22, 12, 15,
  18, 21, 12, 14, 17, 20, 11, 14, 16, 19, 11, 13, 15, 18, 10, 12, 15, 17, 10, 12, 14, 16, 9, 11, 13, 15, 9, 11, 12, 14,
  8, 10, 12, 14, 8, 9, 11, 13, 7, 9, 11, 12, 7, 9, 10, 12, 7, 8, 10, 11, 6, 8, 9, 11, 6, 7, 9, 10, 6, 7, 8, 9, 2, 2, 2,
  2,
]);

/** Table 9-45: transIdxLPS by pStateIdx. (transIdxMPS is pStateIdx + 1, capped at 62.) */
const TRANS_IDX_LPS = Uint8Array.from([
  0, 0, 1, 2, 2, 4, 4, 5, 6, 7, 8, 9, 9, 11, 11, 12, 13, 13, 15, 15, 16, 16, 18, 18, 19, 19, 21, 21, 22, 22, 23, 24, 24,
  25, 26, 26, 27, 27, 28, 29, 29, 30, 30, 30, 31, 32, 32, 33, 33, 33, 34, 34, 35, 35, 35, 36, 36, 36, 37, 37, 37, 38,
  38, 63,
]);

/** §9.3.1.1: the highest adaptive pStateIdx; 63 is the non-adapting state of end_of_slice_flag. */
const MAX_ADAPTIVE_STATE = 62;
/** §9.3.1.2 / §9.3.4.1: codIRange after initialisation, 9 bits. */
const INITIAL_RANGE = 510;
/** §9.3.4.3 RenormE: codIRange is kept at or above a quarter of codILow's 10-bit span. */
const QUARTER = 256;
const HALF = 512;
/** §9.3.4.5: the range the terminating bin takes from codIRange. */
const TERMINATE_RANGE = 2;

/** Table 9-44 and Table 9-45 entries, exported for a decoder written beside the tests. */
export function rangeLps(pStateIdx: number, codIRange: number): number {
  return RANGE_TAB_LPS[pStateIdx * 4 + ((codIRange >> 6) & 3)] as number;
}

export function nextStateLps(pStateIdx: number): number {
  return TRANS_IDX_LPS[pStateIdx] as number;
}

export function nextStateMps(pStateIdx: number): number {
  return Math.min(pStateIdx + 1, MAX_ADAPTIVE_STATE);
}

/** One context variable (§9.3.1.1): probability state and most probable symbol. */
export interface CabacContext {
  pStateIdx: number;
  valMps: 0 | 1;
}

function clip3(lo: number, hi: number, v: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/** §9.3.1.1: the initial state of a context from its (m, n) pair of Tables 9-12..9-33 and SliceQPY. */
export function initCabacContext(m: number, n: number, sliceQpY: number): CabacContext {
  // Arithmetic shift, as the spec's >> on a possibly negative product.
  const preCtxState = clip3(1, 126, ((m * clip3(0, 51, sliceQpY)) >> 4) + n);
  return preCtxState <= 63 ? { pStateIdx: 63 - preCtxState, valMps: 0 } : { pStateIdx: preCtxState - 64, valMps: 1 };
}

export class CabacEncoder {
  private readonly out: BitWriter;
  private low = 0;
  private range = INITIAL_RANGE;
  /** §9.3.4.3: the first bit PutBit produces is not written (codILow has one bit of headroom). */
  private firstBit = true;
  private bitsOutstanding = 0;
  private flushed = false;

  /** InitEncoder (§9.3.4.1). Writes from the writer's current position, which must be byte aligned (§7.3.4). */
  constructor(out: BitWriter) {
    if (!out.byteAligned) {
      throw new MediaFormatError(MediaFormatErrorCode.H264_BITSTREAM, 'CABAC slice data must start byte aligned');
    }
    this.out = out;
  }

  /** EncodeDecision (§9.3.4.2): one bin with an adaptive context, which it updates. */
  encodeDecision(ctx: CabacContext, binVal: 0 | 1): void {
    this.checkOpen();
    const lps = rangeLps(ctx.pStateIdx, this.range);
    this.range -= lps;
    if (binVal !== ctx.valMps) {
      this.low += this.range;
      this.range = lps;
      if (ctx.pStateIdx === 0) ctx.valMps = ctx.valMps === 1 ? 0 : 1;
      ctx.pStateIdx = nextStateLps(ctx.pStateIdx);
    } else {
      ctx.pStateIdx = nextStateMps(ctx.pStateIdx);
    }
    this.renorm();
  }

  /**
   * EncodeTerminate (§9.3.4.5): end_of_slice_flag and the like. A 1 ends the arithmetic code
   * (EncodeFlush): its last bit written is the rbsp_stop_one_bit, so the caller only pads
   * with zero bits to the byte boundary.
   */
  encodeTerminate(binVal: 0 | 1): void {
    this.checkOpen();
    this.range -= TERMINATE_RANGE;
    if (binVal === 0) {
      this.renorm();
      return;
    }
    this.low += this.range;
    // EncodeFlush:
    this.range = TERMINATE_RANGE;
    this.renorm();
    this.putBit((this.low >> 9) & 1);
    this.out.u(2, ((this.low >> 7) & 3) | 1);
    this.flushed = true;
  }

  get finished(): boolean {
    return this.flushed;
  }

  private checkOpen(): void {
    if (this.flushed) throw new MediaFormatError(MediaFormatErrorCode.H264_BITSTREAM, 'CABAC encoder already flushed');
  }

  /** RenormE (§9.3.4.3). */
  private renorm(): void {
    while (this.range < QUARTER) {
      if (this.low < QUARTER) {
        this.putBit(0);
      } else if (this.low >= HALF) {
        this.low -= HALF;
        this.putBit(1);
      } else {
        // Straddles the middle: the bit is known only once a later one settles it.
        this.low -= QUARTER;
        this.bitsOutstanding++;
      }
      this.range <<= 1;
      this.low <<= 1;
    }
  }

  /** PutBit (§9.3.4.3): the bit, then the outstanding bits, which are its opposite. */
  private putBit(b: 0 | 1 | number): void {
    if (this.firstBit) this.firstBit = false;
    else this.out.u(1, b);
    for (; this.bitsOutstanding > 0; this.bitsOutstanding--) this.out.u(1, 1 - b);
  }
}
