import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BitReader, nalToRbsp } from './bit-reader.js';
import { BitWriter, rbspToNal } from './bit-writer.js';
import { MediaFormatError } from './errors.js';

describe('BitWriter (H.264 §9.1, §7.4.1)', () => {
  it('writes ue(v)/se(v)/u(n) that BitReader reads back', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant('ue' as const), v: fc.integer({ min: 0, max: 2 ** 31 - 2 }) }),
            fc.record({ kind: fc.constant('se' as const), v: fc.integer({ min: -(2 ** 30), max: 2 ** 30 }) }),
            fc.integer({ min: 1, max: 32 }).chain((bits) =>
              fc.record({
                kind: fc.constant('u' as const),
                bits: fc.constant(bits),
                v: fc.integer({ min: 0, max: 2 ** bits - 1 }),
              }),
            ),
          ),
          { maxLength: 50 },
        ),
        (items) => {
          const w = new BitWriter(1);
          for (const it of items) {
            if (it.kind === 'ue') w.ue(it.v);
            else if (it.kind === 'se') w.se(it.v);
            else w.u(it.bits, it.v);
          }
          const r = new BitReader(w.toBuffer());
          for (const it of items) {
            const got = it.kind === 'ue' ? r.ue() : it.kind === 'se' ? r.se() : r.u(it.bits);
            expect(got).toBe(it.v);
          }
        },
      ),
    );
  });

  it('copyBits copies any bit range at any write offset', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.integer({ min: 0, max: 7 }),
        fc.nat(),
        fc.nat(),
        (bytes, lead, a, b) => {
          const src = Buffer.from(bytes);
          const total = src.length * 8;
          const start = a % total;
          const end = start + (b % (total - start + 1));
          const w = new BitWriter(1);
          w.u(lead, 0);
          w.copyBits(src, start, end);
          expect(w.bitLength).toBe(lead + end - start);
          const r = new BitReader(w.toBuffer());
          r.skip(lead);
          const src2 = new BitReader(src);
          src2.skip(start);
          for (let i = start; i < end; i++) expect(r.u(1)).toBe(src2.u(1));
        },
      ),
    );
  });

  it('rbspToNal escapes what nalToRbsp unescapes, and leaves no 00 00 0x (x <= 3) behind', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(0, 0, 0, 1, 2, 3, 4, 0xff), { maxLength: 200 }), (bytes) => {
        const rbsp = Buffer.from(bytes);
        const nal = rbspToNal(rbsp);
        expect(nalToRbsp(nal).equals(rbsp)).toBe(true);
        for (let i = 2; i < nal.length; i++) {
          if (nal[i - 2] === 0 && nal[i - 1] === 0) expect(nal[i]).toBeGreaterThanOrEqual(3);
        }
        if (nal.length >= 2) expect(nal[nal.length - 2] === 0 && nal[nal.length - 1] === 0).toBe(false);
      }),
    );
  });

  it('refuses a value that does not fit', () => {
    expect(() => new BitWriter().u(3, 8)).toThrow(MediaFormatError);
  });
});
