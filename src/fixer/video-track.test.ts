/**
 * The video track on synthetic H.264 tags, with a real interleaver and an open start gate:
 * clean frames pass as they came, frames wait for late parameter sets (bounded) and are
 * dropped before the first IDR, in-band sets become a sequence header, all-intra IDRs are
 * thinned to the target interval (demoted, or only unflagged), and a GOP over the maximum
 * is a transcode decision.
 */
import { describe, expect, it } from 'vitest';
import { parseAvcConfig } from '../flv/avc-config.js';
import { parseVideoTagBody } from '../flv/flv-tag.js';
import { parseSps } from '../flv/h264-sps.js';
import { nalType, NalType, splitNalUnits } from '../flv/nal-units.js';
import { TAG_VIDEO, type MediaTag } from '../media/tag-kinds.js';
import { Interleaver } from './interleaver.js';
import { RepairKind, TranscodeReason, type RepairRecord } from './repairs.js';
import { StartGate } from './start-gate.js';
import { avcFrameTag, avcHeaderTag, buildPps, buildSlice, buildSps } from './synthetic-h264.test-support.js';
import { ClockShifts } from './track-timeline.js';
import { VideoTrack, type VideoTrackOptions } from './video-track.js';

const SPS = { fps: 25 };
const sps = buildSps(SPS);
const pps = buildPps();
const FRAME_MS = 40;

function videoTrack(options: Partial<VideoTrackOptions> = {}, maxPendingFrames = 3) {
  const out: MediaTag[] = [];
  const repairs: RepairRecord[] = [];
  const decisions: { reason: string; atMs: number }[] = [];
  const counts = { in: 0, out: 0 };
  // Its own repairs (video alone is held for the other track) are not the track's.
  const interleaver = new Interleaver(
    500,
    (t) => out.push(t),
    () => undefined,
  );
  const gate = new StartGate(500);
  gate.release(); // video alone: no other track to wait for
  const video = new VideoTrack(
    {
      interleaver,
      gate,
      maxPendingFrames,
      options: {
        targetKeyframeIntervalMs: 1983,
        maxKeyframeIntervalMs: 10_000,
        demoteIdrs: true,
        seamReady: false,
        gapFiller: false,
        ...options,
      },
      repair: (r) => repairs.push(r),
      decide: (reason, atMs) => decisions.push({ reason, atMs }),
      startOut: (raw) => gate.startOut('video', raw, 0),
      framesIn: () => counts.in++,
      framesOut: () => counts.out++,
    },
    new ClockShifts(),
  );
  const end = (): MediaTag[] => {
    video.releaseHeld();
    interleaver.flush();
    return out;
  };
  return { video, repairs, decisions, counts, end };
}

const idrAt = (ts: number, nals: Buffer[] = []): MediaTag =>
  avcFrameTag(ts, [...nals, buildSlice({ idr: true, frameNum: 0, pocLsb: 0 }, SPS)], true);
const pAt = (ts: number, n: number): MediaTag =>
  avcFrameTag(ts, [buildSlice({ idr: false, frameNum: n % 16, pocLsb: (2 * n) % 64 }, SPS)], false);

const isHeader = (t: MediaTag): boolean => parseVideoTagBody(t.data).packetKind === 'sequence-header';
const frames = (out: MediaTag[]): MediaTag[] => out.filter((t) => !isHeader(t));
const frameType = (t: MediaTag): number => parseVideoTagBody(t.data).frameType;
const nalTypes = (t: MediaTag): number[] => splitNalUnits(parseVideoTagBody(t.data).data).nals.map(nalType);
const headerRefFrames = (t: MediaTag): number =>
  parseSps(parseAvcConfig(parseVideoTagBody(t.data).data).sps[0]!).maxNumRefFrames;
const kinds = (repairs: RepairRecord[]): string[] => repairs.map((r) => r.kind);

describe('VideoTrack', () => {
  it('passes a clean stream: the sequence header first, frame bodies untouched, no repairs', () => {
    const { video, repairs, counts, end } = videoTrack();
    const input = [avcHeaderTag(0, sps, pps), idrAt(0), pAt(40, 1), pAt(80, 2)];
    for (const t of input) video.push(t);
    const out = end();
    expect(out.map((t) => t.timestampMs)).toEqual([0, 0, 40, 80]);
    expect(out[0]!.data.equals(input[0]!.data)).toBe(true);
    for (let i = 1; i < 4; i++) expect(out[i]!.data).toBe(input[i]!.data);
    expect(repairs).toEqual([]);
    expect(counts).toEqual({ in: 3, out: 3 });
    expect(video.codec).toBe('avc');
    expect(video.sps?.vui?.fps).toBe(25);
    expect(video.lastOutMs).toBe(80);
    expect(video.frameDurationMs).toBe(FRAME_MS);
  });

  it('holds frames until a late sequence header, dropping the oldest beyond the bound and those before the IDR', () => {
    const { video, repairs, end } = videoTrack({}, 3);
    video.push(pAt(0, 9));
    video.push(pAt(40, 10));
    video.push(idrAt(80));
    video.push(pAt(120, 1));
    expect(repairs.map((r) => [r.kind, r.atMs])).toEqual([[RepairKind.DROPPED_BEFORE_IDR, 0]]);
    video.push(avcHeaderTag(130, sps, pps));
    const out = end();
    expect(repairs.map((r) => [r.kind, r.atMs])).toEqual([
      [RepairKind.DROPPED_BEFORE_IDR, 0],
      [RepairKind.DROPPED_BEFORE_IDR, 40],
    ]);
    expect(isHeader(out[0]!)).toBe(true);
    expect(frames(out).map((t) => nalTypes(t))).toEqual([[NalType.IDR], [NalType.SLICE]]);
  });

  it('moves in-band parameter sets into a sequence header sent before their IDR', () => {
    const { video, repairs, end } = videoTrack();
    video.push(idrAt(0, [sps, pps]));
    video.push(pAt(40, 1));
    const out = end();
    expect(out.map(isHeader)).toEqual([true, false, false]);
    expect(parseAvcConfig(parseVideoTagBody(out[0]!.data).data).sps[0]!.equals(sps)).toBe(true);
    expect(nalTypes(out[1]!)).toEqual([NalType.IDR]);
    expect(kinds(repairs)).toEqual([RepairKind.PARAMETER_SETS_MOVED, RepairKind.AVC_SEQUENCE_HEADER]);
  });

  it('flags keyframes by NAL type', () => {
    const { video, repairs, end } = videoTrack();
    video.push(avcHeaderTag(0, sps, pps));
    video.push(avcFrameTag(0, [buildSlice({ idr: true, frameNum: 0 }, SPS)], false));
    video.push(pAt(40, 1));
    const out = frames(end());
    expect(out.map(frameType)).toEqual([1, 2]);
    expect(repairs.map((r) => [r.kind, r.atMs])).toEqual([[RepairKind.KEYFRAME_FLAG, 0]]);
  });

  it('all-intra with demotion: keyframes at the target interval, the IDRs between demoted, ref frames raised from the start', () => {
    const { video, repairs, end } = videoTrack();
    video.push(avcHeaderTag(0, sps, pps));
    for (let ts = 0; ts <= 2400; ts += FRAME_MS) video.push(idrAt(ts));
    const out = end();
    const headers = out.filter(isHeader);
    expect(headers).toHaveLength(1);
    expect(headerRefFrames(headers[0]!)).toBe(2);
    const keys = frames(out).filter((t) => frameType(t) === 1);
    expect(keys.map((t) => t.timestampMs)).toEqual([0, 2000]);
    for (const t of frames(out)) expect(nalTypes(t)).toEqual([frameType(t) === 1 ? NalType.IDR : NalType.SLICE]);
    const count = (kind: string): number => repairs.filter((r) => r.kind === kind).length;
    expect(count(RepairKind.KEYFRAME_THINNED)).toBe(59);
    expect(count(RepairKind.IDR_DEMOTED)).toBe(59);
    expect(repairs.find((r) => r.kind === RepairKind.IDR_DEMOTED)?.amount).toBe(FRAME_MS);
  });

  it('keeps an IDR that brings a new SPS a keyframe, however soon', () => {
    const { video, repairs, end } = videoTrack();
    const wider = { ...SPS, widthMbs: 40 };
    video.push(avcHeaderTag(0, sps, pps));
    video.push(idrAt(0));
    video.push(pAt(40, 1));
    video.push(avcFrameTag(80, [buildSps(wider), pps, buildSlice({ idr: true, frameNum: 0 }, wider)], true));
    const out = end();
    expect(out.map((t) => [isHeader(t), frameType(t)])).toEqual([
      [true, 1],
      [false, 1],
      [false, 2],
      [true, 1],
      [false, 1],
    ]);
    expect(nalTypes(out[4]!)).toEqual([NalType.IDR]);
    expect(parseSps(parseAvcConfig(parseVideoTagBody(out[3]!.data).data).sps[0]!).width).toBe(640);
    expect(repairs.some((r) => r.kind === RepairKind.KEYFRAME_THINNED || r.kind === RepairKind.IDR_DEMOTED)).toBe(
      false,
    );
  });

  it('all-intra without demotion: thinned IDRs only lose their flag', () => {
    const { video, repairs, end } = videoTrack({ demoteIdrs: false });
    video.push(avcHeaderTag(0, sps, pps));
    for (let ts = 0; ts <= 400; ts += FRAME_MS) video.push(idrAt(ts));
    const out = end();
    expect(headerRefFrames(out[0]!)).toBe(1);
    expect(frames(out).map(frameType)).toEqual([1, ...Array<number>(10).fill(2)]);
    for (const t of frames(out)) expect(nalTypes(t)).toEqual([NalType.IDR]);
    expect(repairs.some((r) => r.kind === RepairKind.IDR_DEMOTED)).toBe(false);
  });

  it('decides on a transcode once a GOP runs over the maximum', () => {
    const { video, decisions } = videoTrack({ maxKeyframeIntervalMs: 500 });
    video.push(avcHeaderTag(0, sps, pps));
    video.push(idrAt(0));
    for (let n = 1; n <= 12; n++) video.push(pAt(n * FRAME_MS, n));
    expect(decisions).toEqual([]);
    video.push(pAt(520, 13)); // 520 ms since the IDR
    video.push(idrAt(560));
    expect(decisions).toEqual([
      { reason: TranscodeReason.GOP_TOO_LONG, atMs: 520 },
      { reason: TranscodeReason.GOP_TOO_LONG, atMs: 560 },
    ]);
  });

  it('decides on a transcode for another codec and sends nothing', () => {
    const { video, decisions, end } = videoTrack();
    video.push({ tagType: TAG_VIDEO, timestampMs: 0, data: Buffer.from([0x12, 0, 0, 0]) });
    expect(video.codec).toBe('h263');
    expect(decisions).toEqual([{ reason: TranscodeReason.UNSUPPORTED_VIDEO_CODEC, atMs: 0 }]);
    expect(end()).toEqual([]);
  });

  it('after a new publish, waits for the next IDR (demoted when it comes too soon)', () => {
    const { video, repairs, end } = videoTrack();
    video.push(avcHeaderTag(0, sps, pps));
    video.push(idrAt(0));
    video.push(pAt(40, 1));
    video.newPublish();
    video.push(pAt(80, 2));
    video.push(idrAt(120));
    const out = frames(end());
    expect(out.map((t) => t.timestampMs)).toEqual([0, 40, 120]);
    expect(repairs.map((r) => [r.kind, r.atMs])).toEqual([
      [RepairKind.DROPPED_BEFORE_IDR, 80],
      [RepairKind.KEYFRAME_THINNED, 120],
      [RepairKind.IDR_DEMOTED, 120],
    ]);
  });
});
