import { describe, expect, it } from 'vitest';
import { BitReader, nalToRbsp } from './bit-reader.js';
import { MediaFormatError } from './errors.js';
import { randomBytes } from '../../test/support/split.js';

describe('BitReader (H.264 §9.1 exp-Golomb)', () => {
  it('reads ue(v) and se(v) code words', () => {
    // 1 | 010 | 011 | 00100 | 00101 | 0001000 -> ue 0,1,2,3,4,7
    const r = new BitReader(Buffer.from([0b10100110, 0b01000010, 0b10001000]));
    expect([r.ue(), r.ue(), r.ue(), r.ue(), r.ue(), r.ue()]).toEqual([0, 1, 2, 3, 4, 7]);
    // se: 1 -> 0, 010 -> 1, 011 -> -1, 00100 -> 2, 00101 -> -2
    const s = new BitReader(Buffer.from([0b10100110, 0b01000010, 0b10000000]));
    expect([s.se(), s.se(), s.se(), s.se(), s.se()]).toEqual([0, 1, -1, 2, -2]);
  });

  it('reads u(32) without sign trouble', () => {
    expect(new BitReader(Buffer.from('ffffffff', 'hex')).u(32)).toBe(0xffffffff);
  });

  it('throws H264_BITSTREAM past the end and on over-long codes, never anything else', () => {
    expect(() => new BitReader(Buffer.from([0])).ue()).toThrow(MediaFormatError);
    expect(() => new BitReader(Buffer.alloc(8)).ue()).toThrow(/longer than 32 bits|bitstream ends/);
    for (let seed = 1; seed <= 500; seed++) {
      const r = new BitReader(randomBytes(8, seed));
      try {
        for (;;) r.se();
      } catch (err) {
        expect(err).toBeInstanceOf(MediaFormatError);
      }
    }
  });

  it('removes emulation prevention bytes, and returns the same buffer when there are none', () => {
    expect(nalToRbsp(Buffer.from('6700000301000003020000030300', 'hex')).toString('hex')).toBe(
      '670000010000020000030300'.replace('030300', '0300'),
    );
    const plain = Buffer.from('674d401f', 'hex');
    expect(nalToRbsp(plain)).toBe(plain);
  });
});
