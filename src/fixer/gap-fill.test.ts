/**
 * The fixer's gap filler on synthetic streams (no FFmpeg): what goes out while the publisher
 * is away, how real media comes back, and what is refused. The pictures themselves are
 * judged by both FFmpegs in test/skip-picture.test.ts and test/gap-filler.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { parseAudioTagBody, parseVideoTagBody } from '../flv/flv-tag.js';
import { ParameterSets } from '../flv/h264-slice.js';
import { nalType, NalType, splitNalUnits } from '../flv/nal-units.js';
import { TAG_AUDIO, TAG_VIDEO, type MediaTag } from '../media/tag-kinds.js';
import { RepairKind, type RepairRecord } from './repairs.js';
import { StreamFixer, type FixerOptions } from './stream-fixer.js';
import {
  aacFrameTag,
  aacHeaderTag,
  avcFrameTag,
  avcHeaderTag,
  buildPps,
  buildSlice,
  buildSps,
  SliceType,
  type SpsSpec,
} from './synthetic-h264.test-support.js';

const FPS = 25;
const FRAME_MS = 1000 / FPS;
const AUDIO_MS = (1024 * 1000) / 44100;
const GOP = 2 * FPS;

interface Run {
  fixer: StreamFixer;
  out: MediaTag[];
  repairs: RepairRecord[];
}

function fixer(options: Partial<FixerOptions> = { gapFiller: true }, spsSpec: SpsSpec = {}): Run {
  const out: MediaTag[] = [];
  const repairs: RepairRecord[] = [];
  const f = new StreamFixer(
    (t) => out.push(t),
    { maxKeyframeIntervalMs: 9800, ...options },
    (r) => repairs.push(r),
  );
  const sps = { fps: FPS, log2MaxFrameNum: 8, log2MaxPicOrderCntLsb: 10, ...spsSpec };
  f.push(avcHeaderTag(0, buildSps(sps), buildPps()));
  f.push(aacHeaderTag(0));
  return { fixer: f, out, repairs };
}

/** `seconds` of a publish from raw time 0: IDR every 2 s, P frames between, audio alongside. */
function publish(run: Run, seconds: number, spsSpec: SpsSpec = {}, from = 0): void {
  const sps = { fps: FPS, log2MaxFrameNum: 8, log2MaxPicOrderCntLsb: 10, ...spsSpec };
  let audioMs = 0;
  for (let i = from; i < seconds * FPS; i++) {
    const ts = Math.round(i * FRAME_MS);
    while (audioMs < ts) {
      run.fixer.push(aacFrameTag(Math.round(audioMs)));
      audioMs += AUDIO_MS;
    }
    const n = i % GOP;
    const nal = buildSlice(
      { idr: n === 0, sliceType: n === 0 ? SliceType.I : SliceType.P, frameNum: n % 256, pocLsb: (2 * n) % 1024 },
      sps,
    );
    run.fixer.push(avcFrameTag(ts, [nal], n === 0));
  }
}

const video = (out: MediaTag[]): MediaTag[] => out.filter((t) => t.tagType === TAG_VIDEO);
const audio = (out: MediaTag[]): MediaTag[] => out.filter((t) => t.tagType === TAG_AUDIO);
const frames = (tags: MediaTag[]): MediaTag[] =>
  tags.filter((t) =>
    t.tagType === TAG_VIDEO
      ? parseVideoTagBody(t.data).packetKind === 'coded-frames'
      : !parseAudioTagBody(t.data).isSequenceHeader,
  );
const isKey = (t: MediaTag): boolean => parseVideoTagBody(t.data).frameType === 1;
const firstNal = (t: MediaTag): Buffer => splitNalUnits(parseVideoTagBody(t.data).data).nals[0] as Buffer;

function expectStrictlyIncreasing(tags: MediaTag[], label: string): void {
  for (let i = 1; i < tags.length; i++)
    expect(tags[i]!.timestampMs, `${label} ${i}`).toBeGreaterThan(tags[i - 1]!.timestampMs);
}

describe('StreamFixer.fill', () => {
  it('fills 5 s at the cadence: skipped P pictures and silent AAC, numbered on from the last picture', () => {
    const run = fixer();
    publish(run, 3);
    run.fixer.flush();
    const before = run.out.length;
    const lastVideo = frames(video(run.out)).at(-1)!.timestampMs;
    const progress = run.fixer.fill(lastVideo + 5000);
    expect(progress.state).toBe('filling');
    expect(progress.reason).toBeNull();
    expect(progress.idrsResent).toBe(0);
    const filled = run.out.slice(before);
    const v = frames(video(filled));
    const a = frames(audio(filled));
    expect(v.length).toBe(progress.videoFrames);
    expect(v.length).toBeGreaterThanOrEqual(124);
    expect(v.length).toBeLessThanOrEqual(125);
    expect(a.length).toBe(progress.audioFrames);
    expect(Math.abs(a.length - Math.round(5000 / AUDIO_MS))).toBeLessThanOrEqual(2);
    // In DTS order across tracks, each track strictly increasing, video on its 40 ms grid.
    for (let i = 1; i < filled.length; i++)
      expect(filled[i]!.timestampMs).toBeGreaterThanOrEqual(filled[i - 1]!.timestampMs);
    expectStrictlyIncreasing(v, 'filler video');
    expectStrictlyIncreasing(a, 'filler audio');
    for (let i = 0; i < v.length; i++) expect(v[i]!.timestampMs).toBe(lastVideo + Math.round((i + 1) * FRAME_MS));
    // Every filler picture is a reference P slice with the next frame_num; no keyframe flag.
    const sps = buildSps({ fps: FPS, log2MaxFrameNum: 8, log2MaxPicOrderCntLsb: 10 });
    const params = new ParameterSets();
    params.addSps(sps);
    params.addPps(buildPps());
    const lastReal = frames(video(run.out.slice(0, before))).at(-1)!;
    let frameNum = params.sliceHeader(firstNal(lastReal)).frameNum;
    for (const t of v) {
      expect(isKey(t)).toBe(false);
      const h = params.sliceHeader(firstNal(t));
      expect(h.nalType).toBe(NalType.SLICE);
      expect(h.nalRefIdc).toBeGreaterThan(0);
      frameNum = (frameNum + 1) % 256;
      expect(h.frameNum).toBe(frameNum);
    }
    // One silent frame's bytes, repeated.
    expect(new Set(a.map((t) => t.data.toString('hex'))).size).toBe(1);
    expect(run.fixer.filling).toBe(true);
  });

  it('re-sends the last IDR (new idr_pic_id, no sequence header again) before the keyframe limit', () => {
    const run = fixer();
    publish(run, 3);
    run.fixer.flush();
    const keys = frames(video(run.out)).filter(isKey);
    const lastKey = keys.at(-1)!;
    const before = run.out.length;
    const progress = run.fixer.fill(lastKey.timestampMs + 30_000);
    expect(progress.idrsResent).toBe(3);
    const filled = video(run.out.slice(before));
    const resent = frames(filled).filter(isKey);
    expect(resent).toHaveLength(3);
    let prevKeyMs = lastKey.timestampMs;
    for (const k of resent) {
      const gap = k.timestampMs - prevKeyMs;
      expect(gap).toBeGreaterThanOrEqual(2000);
      expect(gap).toBeLessThanOrEqual(9800);
      prevKeyMs = k.timestampMs;
      const i = filled.indexOf(k);
      expect(parseVideoTagBody(filled[i - 1]!.data).packetKind, 'no sequence header again').toBe('coded-frames');
      expect(nalType(firstNal(k))).toBe(NalType.IDR);
    }
    const params = new ParameterSets();
    params.addSps(buildSps({ fps: FPS, log2MaxFrameNum: 8, log2MaxPicOrderCntLsb: 10 }));
    params.addPps(buildPps());
    const ids = [lastKey, ...resent].map((k) => params.sliceHeader(firstNal(k)).idrPicId);
    for (let i = 1; i < ids.length; i++) expect(ids[i]).not.toBe(ids[i - 1]);
    // After a re-sent IDR the skipped pictures count from it again.
    const afterFirst = frames(filled)[frames(filled).indexOf(resent[0]!) + 1]!;
    expect(params.sliceHeader(firstNal(afterFirst)).frameNum).toBe(1);
  });

  it('a returning publisher resumes at its IDR, after the filler; audio waits for that IDR', () => {
    const run = fixer();
    publish(run, 3);
    run.fixer.flush();
    const lastVideo = frames(video(run.out)).at(-1)!.timestampMs;
    run.fixer.fill(lastVideo + 1500);
    const fillerEnd = Math.max(...run.out.map((t) => t.timestampMs));
    const before = run.out.length;
    run.fixer.newPublish();
    // The new publish joins mid-GOP: frames until its next IDR (at raw 2 s) are dropped.
    publish(run, 4, {}, Math.round(FPS * 1.5));
    run.fixer.flush();
    expect(run.fixer.filling).toBe(false);
    const resumed = run.out.slice(before);
    const v = frames(video(resumed));
    expect(isKey(v[0]!)).toBe(true);
    expect(v[0]!.timestampMs).toBeGreaterThan(fillerEnd);
    expect(frames(audio(resumed))[0]!.timestampMs).toBeGreaterThanOrEqual(v[0]!.timestampMs - 30);
    expect(run.repairs.some((r) => r.kind === RepairKind.DROPPED_IN_GAP)).toBe(true);
    expectStrictlyIncreasing(frames(video(run.out)), 'video');
    expectStrictlyIncreasing(frames(audio(run.out)), 'audio');
    // No output step over a frame or two at either seam.
    const all = frames(video(run.out));
    const steps = all.slice(1).map((t, i) => t.timestampMs - all[i]!.timestampMs);
    expect(Math.max(...steps)).toBeLessThanOrEqual(2 * FRAME_MS + 1);
  });

  it('the resumed IDR less than 2 s after the last keyframe is demoted, numbered after the filler', () => {
    const run = fixer();
    publish(run, 2.2); // the last IDR at 2.0 s
    run.fixer.flush();
    const lastVideo = frames(video(run.out)).at(-1)!.timestampMs;
    run.fixer.fill(lastVideo + 600);
    const before = run.out.length;
    run.fixer.newPublish();
    publish(run, 1);
    run.fixer.flush();
    const resumed = frames(video(run.out.slice(before)));
    expect(isKey(resumed[0]!)).toBe(false);
    expect(nalType(firstNal(resumed[0]!))).toBe(NalType.SLICE);
    expect(run.repairs.some((r) => r.kind === RepairKind.IDR_DEMOTED)).toBe(true);
    const params = new ParameterSets();
    params.addSps(buildSps({ fps: FPS, log2MaxFrameNum: 8, log2MaxPicOrderCntLsb: 10 }));
    params.addPps(buildPps());
    const lastFiller = frames(video(run.out.slice(0, before))).at(-1)!;
    const fillerFrameNum = params.sliceHeader(firstNal(lastFiller)).frameNum;
    expect(params.sliceHeader(firstNal(resumed[0]!)).frameNum).toBe((fillerFrameNum + 1) % 256);
  });

  it('refuses a stream whose pictures it cannot continue (field coding), and sends nothing', () => {
    const run = fixer({ gapFiller: true }, { frameMbsOnly: false });
    publish(run, 2.5, { frameMbsOnly: false });
    run.fixer.flush();
    const before = run.out.length;
    const progress = run.fixer.fill(10_000);
    expect(progress.state).toBe('refused');
    expect(progress.reason).toMatch(/field-coding/);
    expect(run.out.length).toBe(before);
    expect(run.fixer.filling).toBe(false);
  });

  it('off, fill() refuses', () => {
    const run = fixer({ gapFiller: false });
    publish(run, 2.5);
    expect(run.fixer.fill(10_000).state).toBe('refused');
  });
});

describe('StreamFixer.fill: the same publish resuming mid-GOP', () => {
  it('a P-only, one-reference stream goes on at its next picture, renumbered after the filler: nothing more is lost', () => {
    const run = fixer();
    publish(run, 2.6); // the last IDR at 2.0 s; frame_num 14 last
    run.fixer.flush();
    const lastVideo = frames(video(run.out)).at(-1)!.timestampMs;
    run.fixer.fill(lastVideo + 1000);
    const before = run.out.length;
    const fillerCount = frames(video(run.out)).length - Math.round(2.6 * FPS);
    // The same publish resumes where it stopped (frame 65 of the stream), no new publish.
    publish(run, 4.2, {}, Math.round(2.6 * FPS));
    run.fixer.flush();
    expect(run.fixer.filling).toBe(false);
    const resumed = frames(video(run.out.slice(before)));
    expect(resumed, 'every picture after the gap').toHaveLength(Math.round(4.2 * FPS) - Math.round(2.6 * FPS));
    const params = new ParameterSets();
    params.addSps(buildSps({ fps: FPS, log2MaxFrameNum: 8, log2MaxPicOrderCntLsb: 10 }));
    params.addPps(buildPps());
    const lastFiller = frames(video(run.out.slice(0, before))).at(-1)!;
    const h = params.sliceHeader(firstNal(resumed[0]!));
    expect(h.frameNum).toBe((params.sliceHeader(firstNal(lastFiller)).frameNum + 1) % 256);
    expect(h.frameNum).toBe((14 + fillerCount + 1) % 256);
    expect(resumed[0]!.timestampMs).toBeGreaterThan(lastFiller.timestampMs);
    expect(run.repairs.some((r) => r.kind === RepairKind.SLICE_RENUMBERED)).toBe(true);
    // Up to the next real IDR, which is kept as one.
    expect(resumed.filter(isKey)).toHaveLength(1);
  });

  it('after a new publish (another encoder session) it still waits for the IDR', () => {
    const run = fixer();
    publish(run, 2.6);
    run.fixer.flush();
    run.fixer.fill(frames(video(run.out)).at(-1)!.timestampMs + 2000);
    const before = run.out.length;
    run.fixer.newPublish();
    publish(run, 4.2, {}, Math.round(2.6 * FPS));
    run.fixer.flush();
    const resumed = frames(video(run.out.slice(before)));
    expect(isKey(resumed[0]!)).toBe(true);
    expect(resumed).toHaveLength(5);
  });
});
