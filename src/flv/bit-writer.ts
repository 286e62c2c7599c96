/**
 * Bit-level writing of H.264 RBSP: ITU-T H.264 §7.2 (u(n), ue(v), se(v)), §9.1 (exp-Golomb)
 * and §7.4.1 (emulation prevention), the inverse of bit-reader.ts. Used to rewrite slice
 * headers while the slice data after them is copied bit for bit.
 */
import { MediaFormatError, MediaFormatErrorCode } from './errors.js';

/** §7.4.1: inside a NAL unit, 00 00 followed by a byte <= 03 must be escaped with 03. */
const EMULATION_PREVENTION_BYTE = 0x03;

export class BitWriter {
  private buf: Buffer;
  /** Bits written so far. */
  private bit = 0;

  constructor(capacityBytes = 64) {
    this.buf = Buffer.alloc(Math.max(8, capacityBytes));
  }

  get bitLength(): number {
    return this.bit;
  }

  get byteAligned(): boolean {
    return (this.bit & 7) === 0;
  }

  private reserve(bits: number): void {
    const needBytes = (this.bit + bits + 7) >> 3;
    if (needBytes <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(needBytes, this.buf.length * 2));
    this.buf.copy(next);
    this.buf = next;
  }

  /** u(n): the low `bits` bits of value, most significant first (0..32). */
  u(bits: number, value: number): void {
    if (bits < 0 || bits > 32 || value < 0 || value >= 2 ** bits) {
      throw new MediaFormatError(MediaFormatErrorCode.H264_BITSTREAM, `value ${value} does not fit u(${bits})`);
    }
    this.reserve(bits);
    for (let i = bits - 1; i >= 0; i--) {
      if (Math.floor(value / 2 ** i) % 2 === 1) {
        const at = this.bit >> 3;
        this.buf[at] = (this.buf[at] as number) | (0x80 >> (this.bit & 7));
      }
      this.bit++;
    }
  }

  flag(value: boolean): void {
    this.u(1, value ? 1 : 0);
  }

  /** ue(v): unsigned exp-Golomb. */
  ue(value: number): void {
    const codeNum = value + 1;
    const length = Math.floor(Math.log2(codeNum));
    this.u(length, 0);
    this.u(length + 1, codeNum);
  }

  /** se(v): signed exp-Golomb (0, 1, -1, 2, -2, ...). */
  se(value: number): void {
    this.ue(value > 0 ? 2 * value - 1 : -2 * value);
  }

  /** Pad with `one` bits (cabac_alignment_one_bit) or zero bits up to a byte boundary. */
  alignWith(one: boolean): void {
    while (!this.byteAligned) this.u(1, one ? 1 : 0);
  }

  /**
   * Append bits [startBit, endBit) of src. Byte-wise with a shift, so copying the slice data
   * of a large picture costs a pass over its bytes, not a call per bit.
   */
  copyBits(src: Buffer, startBit: number, endBit: number): void {
    let count = endBit - startBit;
    if (count <= 0) return;
    this.reserve(count);
    let from = startBit;
    // Until the source is byte aligned: bit by bit (at most 7).
    while ((from & 7) !== 0 && count > 0) {
      this.u(1, ((src[from >> 3] as number) >> (7 - (from & 7))) & 1);
      from++;
      count--;
    }
    const whole = count >> 3;
    const shift = this.bit & 7;
    let at = this.bit >> 3;
    const s = from >> 3;
    if (shift === 0) {
      src.copy(this.buf, at, s, s + whole);
    } else {
      for (let i = 0; i < whole; i++) {
        const b = src[s + i] as number;
        this.buf[at] = (this.buf[at] as number) | (b >> shift);
        at++;
        this.buf[at] = (b << (8 - shift)) & 0xff;
      }
    }
    this.bit += whole * 8;
    from += whole * 8;
    count -= whole * 8;
    for (; count > 0; count--, from++) this.u(1, ((src[from >> 3] as number) >> (7 - (from & 7))) & 1);
  }

  /** The bytes written; a last partial byte is padded with zeros. */
  toBuffer(): Buffer {
    return this.buf.subarray(0, (this.bit + 7) >> 3);
  }
}

const ZERO_ZERO = Buffer.from([0, 0]);

/**
 * Escape an RBSP into NAL unit payload bytes (§7.4.1): 03 after every 00 00 that is followed
 * by a byte <= 03 or ends the data. Returns the input when nothing needs escaping. The search
 * runs in native code (Buffer.indexOf).
 */
export function rbspToNal(rbsp: Buffer): Buffer {
  let at = rbsp.indexOf(ZERO_ZERO);
  let out: Buffer | null = null;
  let o = 0;
  let from = 0;
  while (at >= 0) {
    const next = at + 2;
    if (next < rbsp.length && (rbsp[next] as number) > EMULATION_PREVENTION_BYTE) {
      at = rbsp.indexOf(ZERO_ZERO, next);
      continue;
    }
    // Worst case one escape per two bytes, plus a final one.
    out ??= Buffer.allocUnsafe(rbsp.length + (rbsp.length >> 1) + 2);
    o += rbsp.copy(out, o, from, next);
    out[o++] = EMULATION_PREVENTION_BYTE;
    from = next;
    if (next >= rbsp.length) break; // ended in 00 00 (a cabac_zero_word): the final 03
    at = rbsp.indexOf(ZERO_ZERO, next);
  }
  if (out === null) return rbsp;
  o += rbsp.copy(out, o, from);
  return out.subarray(0, o);
}
