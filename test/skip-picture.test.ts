/**
 * Skip-picture filler judged by FFmpeg: libx264 encodes (baseline = CAVLC, main and high =
 * CABAC with B-pyramids and weighted prediction, at 640x360 and 1280x720) get 5 s of
 * all-P_Skip pictures twice: after a reference P in mid-stream (the stream then goes on from
 * its next IDR) and after the end of the encode (where the last picture decoded is a B and
 * the one shown last is the final P). Both judges must decode the result without an error
 * line, and every filler picture must hash (framemd5) like the real picture it follows, as
 * the unmodified encode decodes it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAvcConfig } from '../src/flv/avc-config.js';
import { readFlv } from '../src/flv/flv-reader.js';
import { parseVideoTagBody } from '../src/flv/flv-tag.js';
import { PocCounter } from '../src/flv/h264-poc.js';
import { ParameterSets, type SliceHeader } from '../src/flv/h264-slice.js';
import {
  buildSkipPicture,
  planSkipPictures,
  SkipPictureTracker,
  type SkipPicturePlan,
} from '../src/flv/h264-skip-picture.js';
import { nalType, NalType, splitAvcc } from '../src/flv/nal-units.js';
import { decodeWith, JUDGES, type Judge } from './support/judges.js';
import { run, testEncode, type TestEncode } from './support/media.js';

const FILLER_S = 5;
const FPS = 30;
const ANNEX_B_START_CODE = Buffer.from([0, 0, 0, 1]);

interface Encode {
  sps: Buffer;
  pps: Buffer;
  /** NAL units of each frame, decode order. */
  frames: Buffer[][];
  headers: SliceHeader[];
}

function readEncode(file: string): Encode {
  let sps: Buffer | null = null;
  let pps: Buffer | null = null;
  let lengthSize: 1 | 2 | 4 = 4;
  const frames: Buffer[][] = [];
  for (const tag of readFlv(readFileSync(file)).tags) {
    if (tag.tagType !== 9) continue;
    const body = parseVideoTagBody(tag.data);
    if (body.packetKind === 'sequence-header') {
      const config = parseAvcConfig(body.data);
      [sps, pps, lengthSize] = [config.sps[0] ?? null, config.pps[0] ?? null, config.nalLengthSize];
    } else if (body.packetKind === 'coded-frames' && body.data.length > 0) {
      frames.push(splitAvcc(body.data, lengthSize));
    }
  }
  if (sps === null || pps === null) throw new Error(`${file}: no AVC sequence header`);
  const params = new ParameterSets();
  params.addSps(sps);
  params.addPps(pps);
  const headers = frames.map((nals) => {
    const slice = nals.find((n) => nalType(n) === NalType.SLICE || nalType(n) === NalType.IDR);
    if (slice === undefined) throw new Error('a frame without a slice');
    return params.sliceHeader(slice);
  });
  return { sps, pps, frames, headers };
}

/**
 * Each frame's place in the display order of the whole encode: by IDR period, then POC. A
 * closed-GOP encode shows the pictures of one IDR period before any of the next.
 */
function displayIndexes(encode: Encode, sps: ReturnType<ParameterSets['addSps']>): number[] {
  const poc = new PocCounter();
  let period = -1;
  const keys = encode.headers.map((h, i) => {
    if (h.nalType === NalType.IDR) period++;
    return { i, period, poc: poc.next(h, sps) ?? i };
  });
  const order = [...keys].sort((a, b) => a.period - b.period || a.poc - b.poc);
  const index: number[] = [];
  order.forEach((k, shown) => (index[k.i] = shown));
  return index;
}

/** The plan for filler after frames [0, end) of the encode. */
function planAfter(encode: Encode, sps: ReturnType<ParameterSets['addSps']>, end: number): SkipPicturePlan {
  const tracker = new SkipPictureTracker();
  for (const h of encode.headers.slice(0, end)) tracker.picture(h, sps);
  const state = tracker.state();
  if (state === null) throw new Error('no IDR before the cut');
  const result = planSkipPictures(encode.sps, encode.pps, state);
  if (!result.ok) throw new Error(`refused: ${result.reason} (${result.detail})`);
  return result.plan;
}

/**
 * framemd5 of every picture, and the decoder's own lines at `-v info`: besides errors, FFmpeg
 * says there that it concealed macroblocks (a slice that ends short), which `-v error` hides.
 */
async function framemd5(judge: Judge, file: string): Promise<{ hashes: string[]; decoderLines: string[] }> {
  const r = await run(
    judge.ffmpeg,
    ['-hide_banner', '-nostdin', '-v', 'info', '-i', file, '-map', '0:v', '-vsync', '0', '-f', 'framemd5', '-'],
    120_000,
  );
  const hashes = r.stdout
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => (l.split(',').pop() as string).trim());
  const decoderLines = r.stderr.split('\n').filter((l) => /^\[h264 @|corrupt decoded frame/.test(l));
  return { hashes, decoderLines: r.code === 0 ? decoderLines : [...decoderLines, `exit code ${r.code}`] };
}

function annexB(nals: Buffer[]): Buffer {
  return Buffer.concat(nals.flatMap((n) => [ANNEX_B_START_CODE, n]));
}

const dir = mkdtempSync(join(tmpdir(), 'rinse-skip-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CASES: Array<{ profile: 'baseline' | 'main' | 'high'; size: string; bitrate: string }> = [
  { profile: 'baseline', size: '640x360', bitrate: '800k' },
  { profile: 'main', size: '640x360', bitrate: '800k' },
  { profile: 'high', size: '640x360', bitrate: '800k' },
  { profile: 'baseline', size: '1280x720', bitrate: '2000k' },
  { profile: 'main', size: '1280x720', bitrate: '2000k' },
  { profile: 'high', size: '1280x720', bitrate: '2000k' },
];

describe('skip-picture filler', () => {
  it.each(CASES.map((c) => [`${c.profile} ${c.size}`, c] as const))(
    '%s: decodes cleanly in every judge and repeats the last real picture exactly',
    async (_name, { profile, size, bitrate }) => {
      const spec: TestEncode = {
        size,
        fps: FPS,
        seconds: 3,
        videoBitrate: bitrate,
        gop: 45,
        preset: 'superfast',
        profile,
        audio: false,
      };
      const source = await testEncode(spec);
      const encode = readEncode(source);
      const params = new ParameterSets();
      const sps = params.addSps(encode.sps);
      const fillerCount = Math.round(FILLER_S * (sps.vui?.fps ?? FPS));
      const n = encode.frames.length;
      // Cut right after a reference P past the first third; the stream resumes at the next IDR.
      const nextIdr = encode.headers.findIndex((h, i) => i > 0 && h.nalType === NalType.IDR);
      const cut =
        encode.headers.findIndex((h, i) => i >= n / 3 && i < nextIdr && h.sliceKind === 'P' && h.nalRefIdc > 0) + 1;
      expect(cut).toBeGreaterThan(0);
      const first = planAfter(encode, sps, cut);
      const last = planAfter(encode, sps, n);
      expect(first.cabacSliceData !== null).toBe(profile !== 'baseline');

      const filler = (plan: SkipPicturePlan): Buffer[] =>
        Array.from({ length: fillerCount }, (_, i) => buildSkipPicture(plan, i));
      const nals = [
        encode.sps,
        encode.pps,
        ...encode.frames.slice(0, cut).flat(),
        ...filler(first),
        ...encode.frames.slice(nextIdr).flat(),
        ...filler(last),
      ];
      const file = join(dir, `${profile}-${size}.h264`);
      writeFileSync(file, annexB(nals));
      const original = join(dir, `${profile}-${size}-original.h264`);
      writeFileSync(original, annexB([encode.sps, encode.pps, ...encode.frames.flat()]));

      // What the output must show: the kept real pictures in display order, each filler run
      // repeating the highest-POC real picture before it.
      const shownAt = displayIndexes(encode, sps);
      const keptBefore = Array.from({ length: cut }, (_, i) => shownAt[i] as number).sort((a, b) => a - b);
      const keptAfter = Array.from({ length: n - nextIdr }, (_, i) => shownAt[nextIdr + i] as number).sort(
        (a, b) => a - b,
      );
      for (const judge of JUDGES) {
        const decoded = await decodeWith(judge, file);
        expect(decoded.errorLines, `${judge.label} decoding ${file}`).toEqual([]);
        expect(decoded.code).toBe(0);
        const out = await framemd5(judge, file);
        const ref = await framemd5(judge, original);
        expect(out.decoderLines, judge.label).toEqual([]);
        expect(ref.decoderLines, judge.label).toEqual([]);
        const expected = [
          ...keptBefore.map((d) => ref.hashes[d]),
          ...Array.from({ length: fillerCount }, () => ref.hashes[keptBefore.at(-1) as number]),
          ...keptAfter.map((d) => ref.hashes[d]),
          ...Array.from({ length: fillerCount }, () => ref.hashes[keptAfter.at(-1) as number]),
        ];
        expect(out.hashes.length, judge.label).toBe(expected.length);
        expect(out.hashes, judge.label).toEqual(expected);
        // The repeated picture is not a still: it differs from the one shown before it.
        expect(ref.hashes[(keptAfter.at(-1) as number) - 1]).not.toBe(ref.hashes[keptAfter.at(-1) as number]);
      }
    },
  );
});
