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
  it("parses ffmpeg's record and rebuilds it from its SPS/PPS", async () => {
    const flv = readFlv(readFileSync(await testEncode()));
    const header = flv.tags
      .map((t) => (t.tagType === 9 ? parseVideoTagBody(t.data) : null))
      .find((b) => b?.packetKind === 'sequence-header');
    const record = header!.data;
    const config = parseAvcConfig(record);
    expect(config).toMatchObject({ nalLengthSize: 4, profileIdc: 100 });
    expect(config.sps).toHaveLength(1);
    expect(config.pps).toHaveLength(1);
    expect(parseSps(config.sps[0]!)).toMatchObject({ width: 1280, height: 720 });
    // §5.3.3.1 asks High-profile records for the chroma/bit-depth extension; some writers
    // (FFmpeg 4.1) omit it, others (FFmpeg 5.1) write it. We always write it, so the
    // expectation follows the input record: the same bytes, plus the extension if it had none.
    const sps = parseSps(config.sps[0]!);
    const extension = {
      chromaFormat: sps.chromaFormatIdc,
      bitDepthLuma: sps.bitDepthLuma,
      bitDepthChroma: sps.bitDepthChroma,
      spsExt: [],
    };
    const built = buildAvcConfig({ sps: config.sps, pps: config.pps });
    if (config.ext !== null) {
      expect(config.ext).toEqual(extension);
      expect(built.toString('hex')).toBe(record.toString('hex'));
    } else {
      expect(built.subarray(0, record.length).toString('hex')).toBe(record.toString('hex'));
      // chroma_format 1, 8-bit luma and chroma, no SPS extensions.
      expect(built.subarray(record.length).toString('hex')).toBe('fdf8f800');
    }
    expect(parseAvcConfig(built).ext).toEqual(extension);
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
