import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { buildAvcConfig, parseAvcConfig } from './avc-config.js';
import { MediaFormatError } from './errors.js';
import { readFlv } from './flv-reader.js';
import { parseVideoTagBody } from './flv-tag.js';
import { parseSps } from './h264-sps.js';
import { testEncode } from '../../test/support/media.js';
import { randomBytes } from '../../test/support/split.js';

describe('AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1)', () => {
  it('parses ffmpeg\'s record and rebuilds it from its SPS/PPS', async () => {
    const flv = readFlv(readFileSync(await testEncode()));
    const header = flv.tags.map((t) => (t.tagType === 9 ? parseVideoTagBody(t.data) : null)).find((b) => b?.packetKind === 'sequence-header');
    const record = header!.data;
    const config = parseAvcConfig(record);
    expect(config).toMatchObject({ nalLengthSize: 4, profileIdc: 100 });
    expect(config.sps).toHaveLength(1);
    expect(config.pps).toHaveLength(1);
    expect(parseSps(config.sps[0]!)).toMatchObject({ width: 1280, height: 720 });
    // This ffmpeg (4.1) omits the High-profile extension that §5.3.3.1 asks for; we write it
    // (chroma_format 1, 8-bit luma and chroma, no SPS extensions), after identical bytes.
    const built = buildAvcConfig({ sps: config.sps, pps: config.pps });
    expect(built.subarray(0, record.length).equals(record)).toBe(true);
    expect(built.subarray(record.length).toString('hex')).toBe('fdf8f800');
    expect(parseAvcConfig(built).ext).toEqual({ chromaFormat: 1, bitDepthLuma: 8, bitDepthChroma: 8, spsExt: [] });
  });

  it('throws AVC_CONFIG on bad versions, 3-byte lengths, overruns and garbage, nothing else', () => {
    expect(() => parseAvcConfig(Buffer.from('0264001fffe1', 'hex'))).toThrow(MediaFormatError);
    expect(() => parseAvcConfig(Buffer.from('0164001ffee100', 'hex'))).toThrow(/3-byte/);
    expect(() => parseAvcConfig(Buffer.from('0164001fffe10010', 'hex'))).toThrow(/overruns|cut/);
    for (let seed = 1; seed <= 500; seed++) {
      try {
        parseAvcConfig(Buffer.concat([Buffer.from([1]), randomBytes(40, seed)]));
      } catch (err) {
        expect(err).toBeInstanceOf(MediaFormatError);
      }
    }
  });
});
