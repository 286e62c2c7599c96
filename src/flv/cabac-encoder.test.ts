import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BitReader } from './bit-reader.js';
import { BitWriter } from './bit-writer.js';
import { CabacDecoder } from './cabac-decoder.test-support.js';
import { CabacEncoder, initCabacContext, type CabacContext } from './cabac-encoder.js';
import { MediaFormatError } from './errors.js';

type Bin = { kind: 'decision'; ctx: number; bin: 0 | 1 } | { kind: 'terminate0' };

/** Encode `bins` (with contexts made from `inits`), end with a terminating 1, pad to a byte. */
function encode(inits: Array<[number, number, number]>, bins: Bin[]): { bytes: Buffer; bits: number } {
  const w = new BitWriter(1);
  const enc = new CabacEncoder(w);
  const ctxs = inits.map(([m, n, qp]) => initCabacContext(m, n, qp));
  for (const b of bins) {
    if (b.kind === 'decision') enc.encodeDecision(ctxs[b.ctx] as CabacContext, b.bin);
    else enc.encodeTerminate(0);
  }
  enc.encodeTerminate(1);
  const bits = w.bitLength;
  w.alignWith(false);
  return { bytes: w.toBuffer(), bits };
}

describe('initCabacContext (H.264 §9.3.1.1)', () => {
  it('maps (m, n, SliceQPY) to pStateIdx and valMPS', () => {
    // mb_skip_flag, P slice, cabac_init_idc 0 (Table 9-13, ctxIdx 11) at QP 26: preCtxState 70.
    expect(initCabacContext(23, 33, 26)).toEqual({ pStateIdx: 6, valMps: 1 });
    // cabac_init_idc 1 at QP 26: preCtxState 60, so "not skipped" is the likelier symbol.
    expect(initCabacContext(22, 25, 26)).toEqual({ pStateIdx: 3, valMps: 0 });
    // A negative m: (-28 * 26) >> 4 is -46 (arithmetic shift), + 127 = 81.
    expect(initCabacContext(-28, 127, 26)).toEqual({ pStateIdx: 17, valMps: 1 });
    // SliceQPY is clipped to 0..51 and preCtxState to 1..126.
    expect(initCabacContext(23, 33, 60)).toEqual(initCabacContext(23, 33, 51));
    expect(initCabacContext(23, 33, -12)).toEqual(initCabacContext(23, 33, 0));
    expect(initCabacContext(0, 127, 26)).toEqual({ pStateIdx: 62, valMps: 1 });
    expect(initCabacContext(0, -20, 26)).toEqual({ pStateIdx: 62, valMps: 0 });
  });
});

describe('CabacEncoder (H.264 §9.3.4)', () => {
  it('flushes a lone terminating bin to 1111111 01, the last 1 being the stop bit', () => {
    const { bytes, bits } = encode([], []);
    expect(bits).toBe(9);
    expect(bytes).toEqual(Buffer.from([0xfe, 0x80]));
  });

  it('round-trips decisions and terminating bins through a decoder written from §9.3.3.2', () => {
    const ctxInit = fc.tuple(
      fc.integer({ min: -50, max: 65 }),
      fc.integer({ min: -50, max: 127 }),
      fc.integer({ min: -12, max: 51 }),
    );
    fc.assert(
      fc.property(
        fc.array(ctxInit, { minLength: 1, maxLength: 4 }),
        // How skewed the source is: from fair coins to nearly constant, as real syntax elements are.
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.array(fc.tuple(fc.nat(), fc.double({ min: 0, max: 1, noNaN: true }), fc.boolean()), { maxLength: 400 }),
        (inits, pOne, draws) => {
          const bins: Bin[] = draws.map(([c, u, term]) =>
            term && u < 0.1
              ? { kind: 'terminate0' }
              : { kind: 'decision', ctx: c % inits.length, bin: u < pOne ? 1 : 0 },
          );
          const { bytes, bits } = encode(inits, bins);
          const r = new BitReader(bytes);
          const dec = new CabacDecoder(r);
          const ctxs = inits.map(([m, n, qp]) => initCabacContext(m, n, qp));
          for (const b of bins) {
            if (b.kind === 'decision') expect(dec.decodeDecision(ctxs[b.ctx] as CabacContext)).toBe(b.bin);
            else expect(dec.decodeTerminate()).toBe(0);
          }
          expect(dec.decodeTerminate()).toBe(1);
          // §9.3.3.2.4: the decoder stops right after the stop bit, which is the encoder's last bit.
          expect(dec.bitPosition).toBe(bits);
          expect(((bytes[(bits - 1) >> 3] as number) >> (7 - ((bits - 1) & 7))) & 1).toBe(1);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('codes a run of likely symbols in a small fraction of a bit each', () => {
    const bins: Bin[] = [];
    for (let i = 0; i < 3600; i++) bins.push({ kind: 'decision', ctx: 0, bin: 1 }, { kind: 'terminate0' });
    const { bytes } = encode([[23, 33, 26]], bins);
    // 7200 bins: about 0.03 bits for each adapted decision and 0.006 for each terminating 0.
    expect(bytes.length).toBeLessThan(40);
  });

  it('refuses slice data that does not start byte aligned, and bins after the flush', () => {
    const w = new BitWriter();
    w.u(3, 5);
    expect(() => new CabacEncoder(w)).toThrow(MediaFormatError);
    w.alignWith(true);
    const enc = new CabacEncoder(w);
    enc.encodeTerminate(1);
    expect(enc.finished).toBe(true);
    expect(() => enc.encodeTerminate(1)).toThrow(MediaFormatError);
    expect(() => enc.encodeDecision({ pStateIdx: 0, valMps: 0 }, 0)).toThrow(MediaFormatError);
  });
});
