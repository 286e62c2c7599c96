/**
 * Bit-level reading of H.264 RBSP: ITU-T H.264 §7.2 (u(n), ue(v), se(v)), §9.1
 * (exp-Golomb codes) and §7.4.1 (emulation prevention bytes). Reads past the end throw
 * a MediaFormatError, so hostile bitstreams cannot crash or hang a parser.
 */
import { MediaFormatError, MediaFormatErrorCode } from './errors.js';

/** §7.4.1: 00 00 03 inside a NAL unit escapes 00 00 0x (x <= 3); the 03 is not data. */
const EMULATION_PREVENTION_BYTE = 0x03;
/** §9.1: more leading zeros than this cannot encode a 32-bit value. */
const MAX_LEADING_ZEROS = 31;

const ESCAPE = Buffer.from([0, 0, EMULATION_PREVENTION_BYTE]);

/**
 * The RBSP of a NAL unit: emulation prevention bytes removed. Returns the input itself when
 * it has none. The search runs in native code (Buffer.indexOf), so a large slice costs about
 * a copy.
 */
export function nalToRbsp(nal: Buffer): Buffer {
  let at = nal.indexOf(ESCAPE);
  if (at < 0) return nal;
  const out = Buffer.allocUnsafe(nal.length);
  let o = 0;
  let from = 0;
  while (at >= 0) {
    // Keep the two zeros, drop the 03; the zero count starts again after it.
    o += nal.copy(out, o, from, at + 2);
    from = at + 3;
    at = nal.indexOf(ESCAPE, from);
  }
  o += nal.copy(out, o, from);
  return out.subarray(0, o);
}

/**
 * Position of the rbsp_stop_one_bit (§7.3.2.11): the last set bit of an RBSP, in bits from
 * its start. Throws when the RBSP is all zeros.
 */
export function rbspStopBitPosition(rbsp: Buffer): number {
  for (let i = rbsp.length - 1; i >= 0; i--) {
    const b = rbsp[i] as number;
    if (b !== 0) {
      let bit = 7;
      while (((b >> (7 - bit)) & 1) === 0) bit--;
      return i * 8 + bit;
    }
  }
  throw new MediaFormatError(MediaFormatErrorCode.H264_BITSTREAM, 'RBSP has no stop bit');
}

export class BitReader {
  private readonly buf: Buffer;
  private bit = 0;

  constructor(buf: Buffer) {
    this.buf = buf;
  }

  /** Bits read so far. */
  get bitPosition(): number {
    return this.bit;
  }

  get byteAligned(): boolean {
    return (this.bit & 7) === 0;
  }

  get bitsLeft(): number {
    return this.buf.length * 8 - this.bit;
  }

  private need(bits: number): void {
    if (bits > this.bitsLeft) {
      throw new MediaFormatError(
        MediaFormatErrorCode.H264_BITSTREAM,
        `bitstream ends: ${bits} bits wanted, ${this.bitsLeft} left`,
      );
    }
  }

  /** u(n): n bits, most significant first (0..32). */
  u(bits: number): number {
    this.need(bits);
    let value = 0;
    for (let i = 0; i < bits; i++) {
      const byte = this.buf[this.bit >> 3] as number;
      value = value * 2 + ((byte >> (7 - (this.bit & 7))) & 1);
      this.bit++;
    }
    return value;
  }

  flag(): boolean {
    return this.u(1) === 1;
  }

  skip(bits: number): void {
    this.need(bits);
    this.bit += bits;
  }

  /** ue(v): unsigned exp-Golomb. */
  ue(): number {
    let zeros = 0;
    while (this.u(1) === 0) {
      if (++zeros > MAX_LEADING_ZEROS) {
        throw new MediaFormatError(MediaFormatErrorCode.H264_BITSTREAM, 'exp-Golomb code longer than 32 bits');
      }
    }
    return zeros === 0 ? 0 : 2 ** zeros - 1 + this.u(zeros);
  }

  /** se(v): signed exp-Golomb (1, -1, 2, -2, ...). */
  se(): number {
    const k = this.ue();
    if (k === 0) return 0;
    return k % 2 === 1 ? (k + 1) / 2 : -(k / 2);
  }
}
