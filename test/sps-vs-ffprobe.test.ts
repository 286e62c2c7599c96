/**
 * Our SPS parser against ffprobe on real x264 encodes: width, height, profile, level and
 * frame rate (from the VUI timing) must agree on every one. The encodes span baseline,
 * main and high, sizes that need cropping, and the glasses' frame rates. Slice headers of
 * every frame are read too: the first is an IDR with POC lsb 0.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { levelName, parseSps, profileName } from '../src/flv/h264-sps.js';
import { ParameterSets } from '../src/flv/h264-slice.js';
import { nalType, NalType, splitAvcc } from '../src/flv/nal-units.js';
import { parseAvcConfig } from '../src/flv/avc-config.js';

/** The payload of the first ISO BMFF box of `type` (enough for a one-track MP4). */
function box(file: Buffer, type: string): Buffer {
  const at = file.indexOf(Buffer.from(type, 'latin1'));
  return file.subarray(at + 4, at - 4 + file.readUInt32BE(at - 4));
}
import { ffmpegPath, ffprobePath, run } from './support/media.js';

interface Encode {
  size: string;
  rate: string;
  profile: 'baseline' | 'main' | 'high';
}

const ENCODES: Encode[] = [
  { size: '1920x1080', rate: '30', profile: 'high' },
  { size: '1920x1080', rate: '25', profile: 'main' },
  { size: '1280x720', rate: '30', profile: 'baseline' },
  { size: '1280x720', rate: '30000/1001', profile: 'high' },
  { size: '854x480', rate: '15', profile: 'main' },
  { size: '854x480', rate: '30', profile: 'baseline' },
  { size: '540x960', rate: '14', profile: 'main' },
  { size: '540x960', rate: '24', profile: 'high' },
  { size: '640x360', rate: '30', profile: 'baseline' },
  { size: '642x362', rate: '15', profile: 'high' },
  { size: '720x1280', rate: '24000/1001', profile: 'main' },
  { size: '1080x1920', rate: '30', profile: 'high' },
  { size: '320x240', rate: '5', profile: 'baseline' },
  { size: '1366x768', rate: '60', profile: 'high' },
];

const rate = (r: string): number => {
  const [n, d] = r.split('/').map(Number) as [number, number?];
  return d ? n / d : n;
};

describe('SPS parser agrees with ffprobe', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rinse-sps-'));

  for (const e of ENCODES) {
    it(`${e.profile} ${e.size} @ ${e.rate} fps`, async () => {
      // MP4 keeps the exact frame rate for ffprobe (raw .h264 reports field rates, FLV rounds to ms).
      const file = join(dir, `${e.profile}-${e.size}-${e.rate.replace('/', '_')}.mp4`);
      const enc = await run(ffmpegPath, [
        '-hide_banner',
        '-nostdin',
        '-loglevel',
        'error',
        '-y',
        '-f',
        'lavfi',
        '-i',
        `testsrc2=size=${e.size}:rate=${e.rate}`,
        '-frames:v',
        '8',
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-profile:v',
        e.profile,
        '-pix_fmt',
        'yuv420p',
        ...(e.profile === 'baseline' ? [] : ['-preset', 'fast', '-bf', '3', '-b_strategy', '0']),
        '-f',
        'mp4',
        file,
      ]);
      expect(enc.stderr).toBe('');
      const probe = await run(ffprobePath, ['-v', 'error', '-show_streams', '-show_packets', '-of', 'json', file]);
      const probed = JSON.parse(probe.stdout) as {
        streams: Array<{ width: number; height: number; profile: string; level: number; r_frame_rate: string }>;
        packets: Array<{ pos: string; size: string }>;
      };
      const stream = probed.streams[0]!;
      const mp4 = readFileSync(file);
      const config = parseAvcConfig(box(mp4, 'avcC'));
      const samples = probed.packets.map((p) => mp4.subarray(Number(p.pos), Number(p.pos) + Number(p.size)));
      const nals = [...config.sps, ...config.pps, ...samples.flatMap((b) => splitAvcc(b, config.nalLengthSize))];
      const sps = parseSps(config.sps[0]!);
      expect({
        width: sps.width,
        height: sps.height,
        profile: profileName(sps.profileIdc, sps.constraintFlags),
        level: sps.levelIdc,
      }).toEqual({
        width: stream.width,
        height: stream.height,
        profile: stream.profile,
        level: stream.level,
      });
      expect(levelName(sps.levelIdc)).toBe((stream.level / 10).toString());
      expect(sps.vui?.fps).toBeCloseTo(rate(e.rate), 6);
      expect(sps.vui?.fps).toBeCloseTo(rate(stream.r_frame_rate), 6);
      if (e.size === '1920x1080') expect(sps.crop.bottom).toBe(8); // 1088 coded rows

      const sets = new ParameterSets();
      for (const n of nals) {
        if (nalType(n) === NalType.SPS) sets.addSps(n);
        if (nalType(n) === NalType.PPS) sets.addPps(n);
      }
      const slices = nals
        .filter((n) => nalType(n) === NalType.IDR || nalType(n) === NalType.SLICE)
        .map((n) => sets.sliceHeader(n));
      expect(slices.length).toBeGreaterThanOrEqual(8);
      // x264 baseline uses POC type 2 (no lsb in the slice header).
      expect(slices[0]).toMatchObject({
        nalType: 5,
        sliceKind: 'I',
        idrPicId: 0,
        picOrderCntLsb: sps.picOrderCntType === 0 ? 0 : null,
        frameNum: 0,
      });
      if (e.profile !== 'baseline') expect(slices.some((s) => s.sliceKind === 'B')).toBe(true);
      else expect(slices.every((s) => s.sliceKind !== 'B')).toBe(true);
    });
  }
});
