/**
 * IDR demotion against FFmpeg: `rinse fix` on streams whose IDRs come sooner than the 2 s
 * target (all-intra CAVLC and CABAC, short GOPs with P- and B-frames, several slices per
 * picture). FFmpeg must decode the output to exactly the source's pictures (framemd5), and
 * ffprobe must see keyframes only where the fixer kept them: every interval in [2, 10] s.
 *
 * One limit, shown by the last case: FFmpeg's parser calls any I picture a keyframe when the
 * SPS allows one reference frame. The fixer raises max_num_ref_frames at once for an SPS that
 * declares none (all-intra encoders), but for one that declares 1 only at the first kept IDR
 * after a demotion (an SPS changes only at an IDR, and a clean stream's SPS is left alone), so
 * FFmpeg sees extra keyframes in the first GOP of such a stream.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildAvcConfig, parseAvcConfig } from '../src/flv/avc-config.js';
import { readFlv } from '../src/flv/flv-reader.js';
import { buildAvcVideoTagBody, parseVideoTagBody } from '../src/flv/flv-tag.js';
import { encodeFlv } from '../src/flv/flv-writer.js';
import { raiseMaxNumRefFrames } from '../src/flv/h264-sps-rewrite.js';
import { fixFile } from '../src/fix-file.js';
import { RepairKind } from '../src/fixer/repairs.js';
import { MAX_KEYFRAME_INTERVAL_MS, MIN_KEYFRAME_INTERVAL_MS } from '../src/media/output-contract.js';
import { JUDGES, expectDecodes } from './support/judges.js';
import { decodedPictureHashes, probePackets, testEncode, type TestEncode } from './support/media.js';

const BASE: TestEncode = {
  size: '640x360',
  fps: 30,
  seconds: 7,
  videoBitrate: '1500k',
  gop: 1,
  preset: 'superfast',
  audio: false,
};

const CASES: Array<{ name: string; spec: TestEncode; expectRenumbered: boolean; firstGopMs?: number }> = [
  { name: 'all-intra, Baseline (CAVLC)', spec: { ...BASE, profile: 'baseline' }, expectRenumbered: false },
  { name: 'all-intra, Main (CABAC)', spec: { ...BASE, profile: 'main' }, expectRenumbered: false },
  {
    name: 'all-intra, Baseline, 4 slices per picture',
    spec: { ...BASE, profile: 'baseline', x264Params: 'slices=4' },
    expectRenumbered: false,
  },
  { name: 'IDR every 0.5 s with P-frames, Main', spec: { ...BASE, gop: 15, profile: 'main' }, expectRenumbered: true },
  {
    name: 'IDR every 0.5 s with B-frames, High, 3 refs',
    spec: { ...BASE, gop: 15, profile: 'high', preset: 'veryfast', x264Params: 'bframes=2:ref=3' },
    expectRenumbered: true,
  },
  {
    name: 'IDR every 0.3 s, Baseline, CAVLC with P-frames, 1 ref',
    spec: { ...BASE, gop: 9, profile: 'baseline' },
    expectRenumbered: true,
    firstGopMs: 2000,
  },
];

describe('IDR demotion: same pictures, keyframes only where kept', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rinse-demote-'));
  for (const c of CASES) {
    it(c.name, async () => {
      const source = await testEncode(c.spec);
      const out = join(dir, `${c.name.replace(/[^a-z0-9]+/gi, '-')}.flv`);
      const result = await fixFile(source, out);
      expect(result.decision).toBeNull();
      const demoted = result.repairs[RepairKind.IDR_DEMOTED]?.count ?? 0;
      expect(demoted).toBeGreaterThan(0);
      expect((result.repairs[RepairKind.SLICE_RENUMBERED]?.count ?? 0) > 0).toBe(c.expectRenumbered);

      await expectDecodes(out);
      const settled = c.firstGopMs ?? 0;
      for (const judge of JUDGES) {
        // The same pictures, in the same order.
        const [before, after] = await Promise.all([
          decodedPictureHashes(source, judge.ffmpeg),
          decodedPictureHashes(out, judge.ffmpeg),
        ]);
        expect(after.length, `${judge.label}: pictures`).toBe(before.length);
        expect(after, `${judge.label}: framemd5`).toEqual(before);
        // ffprobe's own keyframe judgement (NAL types, and its I-picture rule).
        const keys = (await probePackets(out, judge.ffprobe))
          .filter((p) => p.codecType === 'video' && p.keyframe && (p.dts === 0 || p.dts >= settled))
          .map((p) => p.dts);
        expect(keys.length, judge.label).toBeGreaterThanOrEqual(3);
        for (let i = 1; i < keys.length; i++) {
          expect(
            keys[i]! - keys[i - 1]!,
            `${judge.label}: keyframe interval ending at ${keys[i]}`,
          ).toBeGreaterThanOrEqual(MIN_KEYFRAME_INTERVAL_MS);
          expect(keys[i]! - keys[i - 1]!, `${judge.label}: keyframe interval ending at ${keys[i]}`).toBeLessThanOrEqual(
            MAX_KEYFRAME_INTERVAL_MS,
          );
        }
      }
    });
  }

  it('all-intra with an SPS that allows 1 reference frame (as MediaCodec writes it): raised from the first sequence header', async () => {
    const intra = readFlv(readFileSync(await testEncode({ ...BASE, profile: 'main' })));
    // The same stream with max_num_ref_frames 1 instead of x264's 0.
    const tags = intra.tags.map((t) => {
      if (t.tagType !== 9) return { tagType: t.tagType, timestampMs: t.timestampMs, data: t.data };
      const body = parseVideoTagBody(t.data);
      if (body.packetKind !== 'sequence-header')
        return { tagType: t.tagType, timestampMs: t.timestampMs, data: t.data };
      const config = parseAvcConfig(body.data);
      const sps = config.sps.map((n) => raiseMaxNumRefFrames(n, 1));
      const data = buildAvcVideoTagBody({
        frameType: 1,
        packetType: 0,
        compositionTimeMs: 0,
        data: buildAvcConfig({ sps, pps: config.pps }),
      });
      return { tagType: 9, timestampMs: t.timestampMs, data };
    });
    const source = join(dir, 'intra-ref1.flv');
    writeFileSync(source, encodeFlv({ hasAudio: false, hasVideo: true }, tags));
    const out = join(dir, 'intra-ref1-fixed.flv');
    const result = await fixFile(source, out);
    expect(result.repairs[RepairKind.SPS_REF_FRAMES]?.count).toBe(1);
    for (const judge of JUDGES) {
      expect(await decodedPictureHashes(out, judge.ffmpeg), `${judge.label}: framemd5`).toEqual(
        await decodedPictureHashes(source, judge.ffmpeg),
      );
      const keys = (await probePackets(out, judge.ffprobe))
        .filter((p) => p.codecType === 'video' && p.keyframe)
        .map((p) => p.dts);
      expect(keys.length, judge.label).toBeGreaterThanOrEqual(3);
      for (let i = 1; i < keys.length; i++)
        expect(
          keys[i]! - keys[i - 1]!,
          `${judge.label}: keyframe interval ending at ${keys[i]}`,
        ).toBeGreaterThanOrEqual(MIN_KEYFRAME_INTERVAL_MS);
    }
  });

  it('with demotion off, only the flag is cleared and the NAL units stay as sent', async () => {
    const source = await testEncode({ ...BASE, profile: 'main' });
    const out = join(dir, 'no-demotion.flv');
    const result = await fixFile(source, out, { fixer: { demoteIdrs: false } });
    expect(result.repairs[RepairKind.IDR_DEMOTED]).toBeUndefined();
    expect(result.repairs[RepairKind.KEYFRAME_THINNED]?.count).toBeGreaterThan(0);
    const md5 = (p: { codecType: string; md5: string }[]): string[] =>
      p.filter((x) => x.codecType === 'video').map((x) => x.md5);
    for (const judge of JUDGES) {
      const [before, after] = await Promise.all([
        probePackets(source, judge.ffprobe),
        probePackets(out, judge.ffprobe),
      ]);
      expect(md5(after), judge.label).toEqual(md5(before));
    }
  });
});
