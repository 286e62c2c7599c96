/**
 * The gap filler through the fixer, judged by both FFmpegs: x264 encodes in baseline (CAVLC),
 * main and high (CABAC, B-frames) publish 3.3 s, the publisher is away for 12 s (filled, with
 * the last IDR sent again before the keyframe limit), and a new publish from 0 resumes. The
 * output decodes without an error line and keeps the output contract across both seams.
 * And a publish of P pictures with one reference that stalls mid-GOP and goes on: every
 * real picture after the filler decodes exactly as in the source.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readFlv } from '../src/flv/flv-reader.js';
import { parseVideoTagBody } from '../src/flv/flv-tag.js';
import { encodeFlv } from '../src/flv/flv-writer.js';
import { StreamFixer } from '../src/fixer/stream-fixer.js';
import { TAG_VIDEO, type MediaTag } from '../src/media/tag-kinds.js';
import { MAX_DTS_STEP_MS, MIN_KEYFRAME_INTERVAL_MS } from '../src/media/output-contract.js';
import { expectCloudflareClean } from './support/clean-checks.js';
import { JUDGES, expectDecodes } from './support/judges.js';
import { decodedPictureHashes, probePackets, testEncode, type TestEncode } from './support/media.js';

const dir = mkdtempSync(join(tmpdir(), 'rinse-gap-filler-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CASES: Array<{ profile: 'baseline' | 'main' | 'high'; size: string; bitrate: string }> = [
  { profile: 'baseline', size: '640x360', bitrate: '800k' },
  { profile: 'main', size: '640x360', bitrate: '800k' },
  { profile: 'high', size: '1280x720', bitrate: '2000k' },
];
/** The first publish lasts this long, in ms of its clock. */
const FIRST_MS = 3300;
/** The gap the filler bridges, in ms: past the keyframe limit, so the last IDR goes out again. */
const GAP_MS = 12_000;

describe('gap filler through the fixer', () => {
  it.each(CASES.map((c) => [`${c.profile} ${c.size}`, c] as const))(
    '%s: 12 s filled between two publishes decodes cleanly and keeps the contract',
    async (name, { profile, size, bitrate }) => {
      const spec: TestEncode = {
        size,
        fps: 30,
        seconds: 6,
        videoBitrate: bitrate,
        gop: 60,
        preset: 'superfast',
        profile,
      };
      const tags = readFlv(readFileSync(await testEncode(spec))).tags;
      const out: MediaTag[] = [];
      const fixer = new StreamFixer((t) => out.push(t), {
        maxKeyframeIntervalMs: 9800,
        seamReady: true,
        gapFiller: true,
      });
      for (const t of tags) if (t.tagType === 18 || t.timestampMs < FIRST_MS) fixer.push(t);
      fixer.flush();
      const progress = fixer.fill(fixer.lastOutMs + GAP_MS);
      expect(progress.state, progress.reason ?? '').toBe('filling');
      expect(progress.idrsResent).toBe(1);
      expect(progress.videoFrames).toBeGreaterThanOrEqual(359);
      fixer.newPublish();
      for (const t of tags) fixer.push(t);
      fixer.flush();
      expect(fixer.filling).toBe(false);

      const file = join(dir, `${profile}-${size}.flv`);
      writeFileSync(file, encodeFlv({ hasAudio: true, hasVideo: true }, out));
      await expectDecodes(file);
      const report = await expectCloudflareClean(file, { minKeyframes: 4, name: `gap filler ${name}` });
      const videoOut = out.filter(
        (t) => t.tagType === TAG_VIDEO && parseVideoTagBody(t.data).packetKind === 'coded-frames',
      );
      for (const judge of JUDGES) {
        const keys = report.figures.keyframes[judge.label];
        expect(keys?.minMs, `${judge.label}: shortest keyframe interval`).toBeGreaterThanOrEqual(
          MIN_KEYFRAME_INTERVAL_MS,
        );
        const video = (await probePackets(file, judge.ffprobe)).filter((p) => p.codecType === 'video');
        expect(video, `${judge.label}: every picture is a packet`).toHaveLength(videoOut.length);
        const steps = video.slice(1).map((p, i) => p.dts - video[i]!.dts);
        expect(Math.max(...steps), `${judge.label}: largest video step`).toBeLessThanOrEqual(MAX_DTS_STEP_MS);
      }
    },
    120_000,
  );

  it.each([
    ['baseline (CAVLC)', 'baseline'],
    ['main (CABAC)', 'main'],
  ] as const)(
    '%s, P pictures with one reference: a stall of 2 s mid-GOP is filled and the same publish goes on, every picture exact',
    async (_name, profile) => {
      const spec: TestEncode = {
        size: '640x360',
        fps: 30,
        seconds: 4,
        videoBitrate: '800k',
        gop: 60,
        preset: 'superfast',
        profile,
        x264Params: 'bframes=0:ref=1',
      };
      const source = await testEncode(spec);
      const tags = readFlv(readFileSync(source)).tags;
      const out: MediaTag[] = [];
      const fixer = new StreamFixer((t) => out.push(t), {
        maxKeyframeIntervalMs: 9800,
        seamReady: true,
        gapFiller: true,
      });
      const STALL_AT_MS = 2500; // mid-GOP: the IDRs are at 0, 2 and 4 s
      for (const t of tags) if (t.timestampMs < STALL_AT_MS) fixer.push(t);
      const progress = fixer.fill(fixer.lastOutMs + 2000);
      expect(progress.videoFrames).toBeGreaterThanOrEqual(59);
      // The publisher's clock kept counting through the stall.
      for (const t of tags)
        if (t.timestampMs >= STALL_AT_MS && t.tagType !== 18) fixer.push({ ...t, timestampMs: t.timestampMs + 2000 });
      fixer.flush();
      expect(fixer.filling).toBe(false);
      const file = join(dir, `resume-${profile}.flv`);
      writeFileSync(file, encodeFlv({ hasAudio: true, hasVideo: true }, out));
      await expectDecodes(file);
      const sourceVideo = tags.filter(
        (t) => t.tagType === TAG_VIDEO && parseVideoTagBody(t.data).packetKind === 'coded-frames',
      );
      const before = sourceVideo.filter((t) => t.timestampMs < STALL_AT_MS).length;
      for (const judge of JUDGES) {
        const want = await decodedPictureHashes(source, judge.ffmpeg);
        const got = await decodedPictureHashes(file, judge.ffmpeg);
        const filler = got.length - want.length;
        expect(filler, `${judge.label}: filler pictures`).toBe(progress.videoFrames);
        expect(got.slice(0, before), `${judge.label}: before the stall`).toEqual(want.slice(0, before));
        expect(
          new Set(got.slice(before, before + filler)),
          `${judge.label}: the filler repeats the last picture`,
        ).toEqual(new Set([want[before - 1]]));
        expect(got.slice(before + filler), `${judge.label}: after the stall, every real picture`).toEqual(
          want.slice(before),
        );
      }
      await expectCloudflareClean(file, { minKeyframes: 2, name: `mid-GOP resume ${profile}` });
    },
    120_000,
  );
});
