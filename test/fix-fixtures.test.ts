/**
 * `rinse fix` on every remux-fixable fixture: the output is accepted by `rinse inspect`,
 * ffprobe sees monotonic DTS, keyframe intervals in [2, 10] s, no DTS step over 1 s and A/V
 * within 500 ms, ffmpeg decodes it with no error, the video NAL units are the source's byte
 * for byte (less parameter sets, AUD and filler), and no frame is lost but those before the
 * first IDR.
 *
 * The one exception to byte identity: IDRs that the GOP policy demotes to non-IDR I pictures
 * (all-intra sources) have new slice headers. There the other NAL units must still match,
 * and FFmpeg must decode exactly the pictures of the clean encode the fixture was made from.
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
import { expectCloudflareClean } from './support/clean-checks.js';
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
    frames.push(nals.map((n) => (slicesAs !== undefined && SLICES.has(nalType(n)) ? slicesAs : createHash('md5').update(n).digest('hex'))));
  }
  return { frames, audioFrames };
}

const FIXABLE = FIXTURES.filter((f) => f.remux === 'yes' || f.remux === 'poc');

describe('rinse fix makes every remux-fixable fixture Cloudflare-clean', () => {
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
      const fixer = new StreamFixer((t) => fixed.push({ tagType: t.tagType, timestampMs: t.timestampMs, data: Buffer.from(t.data) }));
      for (const t of whole.tags) fixer.push(t);
      fixer.flush();
      const written = readFileSync(out);
      expect(written.equals(encodeFlv({ hasAudio: whole.header.hasAudio, hasVideo: whole.header.hasVideo }, fixed))).toBe(true);
      expect(result.bytesOut).toBe(written.length);

      // inspect accepts it; ffprobe and ffmpeg find it clean.
      await expectCloudflareClean(out);

      // The same coded pictures, byte for byte; only frames before the first IDR may go.
      const rewritten = (result.repairs[RepairKind.IDR_DEMOTED]?.count ?? 0) + (result.repairs[RepairKind.SLICE_RENUMBERED]?.count ?? 0) > 0;
      const mark = rewritten ? 'slice' : undefined;
      const before = videoNals(source, mark);
      const after = videoNals(out, mark);
      const firstIdr = before.frames.findIndex((f) => f.length > 0);
      expect(after.frames).toEqual(before.frames.slice(Math.max(0, firstIdr)));
      expect(after.audioFrames).toBe(before.audioFrames);
      if (rewritten) {
        // Slice headers rewritten: FFmpeg must decode the very pictures of the clean encode.
        expect(spec.bases).toHaveLength(1);
        const base = join(dirname(source), 'base', `${spec.bases[0]}.flv`);
        const [reference, decodedOut] = await Promise.all([decodedPictureHashes(base), decodedPictureHashes(out)]);
        expect(decodedOut.length).toBeGreaterThan(100);
        expect(decodedOut).toEqual(reference.slice(reference.length - decodedOut.length));
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
