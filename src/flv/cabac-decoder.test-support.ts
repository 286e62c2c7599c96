/**
 * Test support: CABAC arithmetic decoding, ITU-T H.264 §9.3.1.2 (InitDecodingEngine),
 * §9.3.3.2.1 (DecodeDecision), §9.3.3.2.2 (RenormD) and §9.3.3.2.4 (DecodeTerminate), written
 * from the spec apart from the encoder so that a round trip checks both against the text.
 */
import { BitReader } from './bit-reader.js';
import { nextStateLps, nextStateMps, rangeLps, type CabacContext } from './cabac-encoder.js';

export class CabacDecoder {
  private readonly r: BitReader;
  private range = 510;
  private offset: number;

  /** `r` stands at the first bit of the arithmetic code (byte aligned in a slice). */
  constructor(r: BitReader) {
    this.r = r;
    this.offset = r.u(9);
  }

  /** Bits read from the RBSP so far: after a terminating 1, one past the rbsp_stop_one_bit. */
  get bitPosition(): number {
    return this.r.bitPosition;
  }

  decodeDecision(ctx: CabacContext): 0 | 1 {
    const lps = rangeLps(ctx.pStateIdx, this.range);
    this.range -= lps;
    let bin: 0 | 1;
    if (this.offset >= this.range) {
      bin = ctx.valMps === 1 ? 0 : 1;
      this.offset -= this.range;
      this.range = lps;
      if (ctx.pStateIdx === 0) ctx.valMps = bin;
      ctx.pStateIdx = nextStateLps(ctx.pStateIdx);
    } else {
      bin = ctx.valMps;
      ctx.pStateIdx = nextStateMps(ctx.pStateIdx);
    }
    this.renorm();
    return bin;
  }

  /** §9.3.3.2.4: a 1 ends decoding without renormalisation. */
  decodeTerminate(): 0 | 1 {
    this.range -= 2;
    if (this.offset >= this.range) return 1;
    this.renorm();
    return 0;
  }

  private renorm(): void {
    while (this.range < 256) {
      this.range <<= 1;
      this.offset = (this.offset << 1) | this.r.u(1);
    }
  }
}
