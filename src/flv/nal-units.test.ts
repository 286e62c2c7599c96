import { describe, expect, it } from 'vitest';
import { MediaFormatError } from './errors.js';
import { joinAvcc, nalType, NalType, splitAnnexB, splitAvcc, splitNalUnits } from './nal-units.js';
import { randomBytes } from '../../test/support/split.js';

const SPS = Buffer.from('6764001facd9405005bb011000000300100000030320f183196', 'hex').subarray(0, 24);
const PPS = Buffer.from('68ebe3cb22c0', 'hex');
const SEI = Buffer.from('06051a47564adc5c4c433f94efc5113cd143a801ffccccff020004', 'hex');
const IDR = Buffer.concat([Buffer.from('65888400', 'hex'), randomBytes(300, 5).map((b) => (b === 0 ? 7 : b))]);
const hex = (list: Buffer[]): string[] => list.map((b) => b.toString('hex'));

describe('NAL unit framing', () => {
  it('splits AVCC with 1-, 2- and 4-byte lengths', () => {
    for (const size of [1, 2, 4] as const) {
      const nals = size === 1 ? [SPS, PPS] : [SPS, PPS, SEI, IDR];
      expect(hex(splitAvcc(joinAvcc(nals, size), size))).toEqual(hex(nals));
    }
  });

  it('splits Annex B with 3- and 4-byte start codes and trailing zeros', () => {
    const data = Buffer.concat([
      Buffer.from('00000001', 'hex'),
      SPS,
      Buffer.from('000001', 'hex'),
      PPS,
      Buffer.from('0000000001', 'hex'),
      IDR,
      Buffer.from('0000', 'hex'),
    ]);
    expect(hex(splitAnnexB(data))).toEqual(hex([SPS, PPS, IDR]));
    expect(splitNalUnits(data)).toMatchObject({ framing: 'annexb' });
  });

  it('splits the glasses mixed form: one length prefix over start-code-separated NALs', () => {
    const inner = Buffer.concat([
      SPS,
      Buffer.from('00000001', 'hex'),
      PPS,
      Buffer.from('00000001', 'hex'),
      SEI,
      Buffer.from('00000001', 'hex'),
      IDR,
    ]);
    const data = Buffer.concat([joinAvcc([inner]), joinAvcc([IDR])]);
    const { framing, nals } = splitNalUnits(data);
    expect(framing).toBe('mixed');
    expect(hex(nals)).toEqual(hex([SPS, PPS, SEI, IDR, IDR]));
    expect(nals.map(nalType)).toEqual([NalType.SPS, NalType.PPS, NalType.SEI, NalType.IDR, NalType.IDR]);
  });

  it('keeps proper AVCC as AVCC, including a 1-byte first NAL (length 00 00 00 01)', () => {
    expect(splitNalUnits(joinAvcc([SPS, PPS, SEI, IDR])).framing).toBe('avcc');
    const oneByte = joinAvcc([Buffer.from([0x09]), IDR]);
    expect(splitNalUnits(oneByte)).toMatchObject({ framing: 'avcc' });
    expect(splitNalUnits(oneByte).nals).toHaveLength(2);
  });

  it('throws NAL_FRAMING for lengths that overrun, and only MediaFormatError on garbage', () => {
    expect(() => splitAvcc(Buffer.from('0000001065', 'hex'))).toThrow(MediaFormatError);
    expect(() => splitAvcc(Buffer.from('000000', 'hex'))).toThrow(/cut/);
    for (let seed = 1; seed <= 1000; seed++) {
      try {
        splitNalUnits(randomBytes(64, seed));
      } catch (err) {
        expect(err).toBeInstanceOf(MediaFormatError);
      }
    }
  });
});
