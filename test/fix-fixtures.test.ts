/**
 * `rinse fix` on every remux-fixable fixture, judged by the output contract
 * (test/support/clean-checks.ts, every FFmpeg in judges.ts), by lip sync against the clean
 * base encode the fixture was cut from (lip-sync.ts), and by byte identity: the coded
 * slices are the source's byte for byte where no keyframe thinning is needed; where it is
 * (all-intra sources: demoted IDRs get new slice headers), every judge decodes exactly the
 * pictures of the clean encode. No frame is lost but those before the first IDR.
 * Each fixture prints its contract figures and its lip-sync figure.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAvcConfig } from '../src/flv/avc-config.js';
import { readFlv } from '../src/flv/flv-reader.js';
import { encodeFlv, type FlvTagInit } from '../src/flv/flv-writer.js';
import { StreamFixer } from '../src/fixer/stream-fixer.js';
import { MediaFormatError } from '../src/flv/errors.js';
import { parseAudioTagBody, parseVideoTagBody } from '../src/flv/flv-tag.js';
import { nalType, NalType, splitNalUnits } from '../src/flv/nal-units.js';
import { fixFile } from '../src/fix-file.js';
import { FIXTURES } from '../fixtures/manifest.js';
import { ensureFixtures, type FixtureFile } from '../fixtures/generate.js';
import { RepairKind } from '../src/fixer/repairs.js';
import { MIN_KEYFRAME_INTERVAL_MS } from '../src/media/output-contract.js';
import { expectCloudflareClean } from './support/clean-checks.js';
import { JUDGES } from './support/judges.js';
import {
  expectLipSync,
  fileTags,
  lipSyncLine,
  measureLipSync,
  trueInputTags,
  type TimedTag,
} from './support/lip-sync.js';
import { decodedPictureHashes } from './support/media.js';

const MOVED_OR_DROPPED = new Set<number>([NalType.SPS, NalType.PPS, NalType.AUD, NalType.FILLER]);
const SLICES = new Set<number>([NalType.SLICE, NalType.IDR]);

/**
 * Per coded video frame, the MD5s of its NAL units other than parameter sets, AUD and filler
 * (with `slicesAs`, slice NAL units are replaced by that mark).
 */
function videoNals(file: string, slicesAs?: string): { frames: string[][]; audioFrames: number } {
  const { tags } = readFlv(readFileSync(file));
  let lengthSize: 1 | 2 | 4 = 4;
  const frames: string[][] = [];
  let audioFrames = 0;
  for (const t of tags) {
    if (t.tagType === 8 && !parseAudioTagBody(t.data).isSequenceHeader) audioFrames++;
    if (t.tagType !== 9) continue;
    const body = parseVideoTagBody(t.data);
    if (body.packetKind === 'sequence-header') lengthSize = parseAvcConfig(body.data).nalLengthSize;
    if (body.packetKind !== 'coded-frames') continue;
    const nals = splitNalUnits(body.data, lengthSize).nals.filter((n) => !MOVED_OR_DROPPED.has(nalType(n)));
    frames.push(
      nals.map((n) =>
        slicesAs !== undefined && SLICES.has(nalType(n)) ? slicesAs : createHash('md5').update(n).digest('hex'),
      ),
    );
  }
  return { frames, audioFrames };
}

/** Slice NAL units (hex) of every coded frame from the first IDR-bearing frame on, in file order. */
function sliceNals(tags: TimedTag[]): string[] {
  let lengthSize: 1 | 2 | 4 = 4;
  const out: string[] = [];
  let seenIdr = false;
  for (const t of tags) {
    if (t.tagType !== 9) continue;
    const body = parseVideoTagBody(t.data);
    if (body.packetKind === 'sequence-header') lengthSize = parseAvcConfig(body.data).nalLengthSize;
    if (body.packetKind !== 'coded-frames') continue;
    const slices = splitNalUnits(body.data, lengthSize).nals.filter((n) => SLICES.has(nalType(n)));
    seenIdr ||= slices.some((n) => nalType(n) === NalType.IDR);
    if (seenIdr) out.push(...slices.map((n) => n.toString('hex')));
  }
  return out;
}

/** The true timeline has IDRs closer than the contract allows: the fixer must thin them (demote IDRs). */
function needsThinning(truth: TimedTag[]): boolean {
  let lengthSize: 1 | 2 | 4 = 4;
  const idrs: number[] = [];
  for (const t of truth) {
    if (t.tagType !== 9) continue;
    const body = parseVideoTagBody(t.data);
    if (body.packetKind === 'sequence-header') lengthSize = parseAvcConfig(body.data).nalLengthSize;
    if (
      body.packetKind === 'coded-frames' &&
      splitNalUnits(body.data, lengthSize).nals.some((n) => nalType(n) === NalType.IDR)
    )
      idrs.push(t.timestampMs);
  }
  return idrs.some((d, i) => i > 0 && d - idrs[i - 1]! < MIN_KEYFRAME_INTERVAL_MS);
}

const sorted = (list: string[]): string[] => [...list].sort();

// Every fixture that needs no new keyframes: the dirty ones remux fixes and the clean ones ('n/a').
const FIXABLE = FIXTURES.filter((f) => f.remux !== 'no');

describe('rinse fix makes every fixture that needs no new keyframes Cloudflare-clean', () => {
  let manifest: FixtureFile[];
  const dir = mkdtempSync(join(tmpdir(), 'rinse-fix-'));
  beforeAll(async () => {
    manifest = await ensureFixtures();
  }, 600_000);

  it(`covers ${FIXABLE.length} fixtures, the all-at-once one included`, () => {
    expect(FIXABLE.map((f) => f.name)).toContain('all-at-once');
    expect(FIXABLE.length).toBeGreaterThanOrEqual(18);
  });

  for (const spec of FIXABLE) {
    it(spec.name, async () => {
      const source = (manifest.find((f) => f.name === spec.name) as FixtureFile).file;
      const out = join(dir, `${spec.name}.flv`);
      const result = await fixFile(source, out);
      expect(result.decision).toBeNull();

      // The streaming file path (1 MiB reads, tag bodies as views, overlapped writes) writes
      // exactly what the fixer makes of the whole file read at once.
      const whole = readFlv(readFileSync(source));
      const fixed: FlvTagInit[] = [];
      const fixer = new StreamFixer((t) =>
        fixed.push({ tagType: t.tagType, timestampMs: t.timestampMs, data: Buffer.from(t.data) }),
      );
      for (const t of whole.tags) fixer.push(t);
      fixer.flush();
      const written = readFileSync(out);
      expect(
        written.equals(encodeFlv({ hasAudio: whole.header.hasAudio, hasVideo: whole.header.hasVideo }, fixed)),
      ).toBe(true);
      expect(result.bytesOut).toBe(written.length);

      // The output contract, every rule the file can answer, with every judge.
      await expectCloudflareClean(out, { name: spec.name });

      // Lip sync by content against the clean base (asserted where the input is in sync).
      const truth = await trueInputTags(spec, source);
      const sync = measureLipSync(truth, fileTags(out));
      console.log(lipSyncLine(spec.name, sync));
      if (spec.syncRight) expectLipSync(spec.name, sync);

      // The same coded pictures, byte for byte; only frames before the first IDR may go.
      const rewritten =
        (result.repairs[RepairKind.IDR_DEMOTED]?.count ?? 0) +
          (result.repairs[RepairKind.SLICE_RENUMBERED]?.count ?? 0) >
        0;
      const mark = rewritten ? 'slice' : undefined;
      const before = videoNals(source, mark);
      const after = videoNals(out, mark);
      const firstIdr = before.frames.findIndex((f) => f.length > 0);
      expect
        .soft(after.frames, 'non-parameter-set NAL units per frame')
        .toEqual(before.frames.slice(Math.max(0, firstIdr)));
      expect.soft(after.audioFrames, 'audio frames').toBe(before.audioFrames);
      if (!needsThinning(truth)) {
        // No keyframe thinning needed: no slice may be touched.
        expect.soft(rewritten, 'slices rewritten although no IDR needed demoting').toBe(false);
        const [inSlices, outSlices] = [sliceNals(fileTags(source)), sliceNals(fileTags(out))];
        expect.soft(outSlices.length, 'slice NAL units').toBe(inSlices.length);
        expect
          .soft(
            sorted(outSlices).join() === sorted(inSlices).join(),
            'slice NAL units byte-identical to the input (as multisets)',
          )
          .toBe(true);
      } else {
        // Slice headers rewritten: every judge must decode the very pictures of the clean encode.
        expect(spec.bases).toHaveLength(1);
        const base = join(dirname(source), 'base', `${spec.bases[0]}.flv`);
        const dropped = result.repairs[RepairKind.DROPPED_BEFORE_IDR]?.count ?? 0;
        for (const judge of JUDGES) {
          const [reference, decodedOut] = await Promise.all([
            decodedPictureHashes(base, judge.ffmpeg),
            decodedPictureHashes(out, judge.ffmpeg),
          ]);
          expect.soft(decodedOut.length, `${judge.label}: decoded pictures`).toBeGreaterThan(100);
          expect
            .soft(decodedOut, `${judge.label}: framemd5 of the output = the clean encode's`)
            .toEqual(reference.slice(dropped));
        }
      }
    });
  }

  it('leaves no output and no partial file when the input is not FLV, and says why', async () => {
    const bad = join(dir, 'not-flv.flv');
    writeFileSync(bad, Buffer.alloc(3 << 20, 0x47)); // 3 MiB of MPEG-TS sync bytes
    const out = join(dir, 'never.flv');
    await expect(fixFile(bad, out)).rejects.toBeInstanceOf(MediaFormatError);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes('partial'))).toEqual([]);
  });
});
