/**
 * TimelineCollector on synthetic streams: per-second figures and keyframe intervals in stream
 * time (from the first tag, across a 32-bit wrap, with gaps), the A/V skew once a second, the
 * dry-run fixer's repairs as marks coalesced by kind and second, and the caps that bound it.
 */
import { describe, expect, it } from 'vitest';
import {
  aacFrameTag,
  aacHeaderTag,
  avcFrameTag,
  avcHeaderTag,
  buildPps,
  buildSlice,
  buildSps,
  SliceType,
  aacFrameMs,
  videoFrameMs,
} from '../fixer/synthetic-h264.test-support.js';
import { StreamFixer } from '../fixer/stream-fixer.js';
import { RepairKind, type RepairSummary } from '../fixer/repairs.js';
import { TAG_AUDIO, TAG_VIDEO, type MediaTag } from '../media/tag-kinds.js';
import { MAX_TIMELINE_KEYFRAMES, MAX_TIMELINE_MARKS, streamSeconds, TimelineCollector } from './report-timeline.js';
import type { InspectTimeline } from './report-types.js';

const FPS = 30;
const SAMPLE_RATE = 44100;
const frameTime = (i: number): number => videoFrameMs(i, FPS);
const audioTime = (i: number): number => aacFrameMs(i, SAMPLE_RATE);

interface Spec {
  seconds: number;
  startMs?: number;
  gopFrames?: number;
  /** Audio sent this far ahead of video (arrival order). */
  audioLeadMs?: number;
  /** Leave out the tags of both tracks whose clean time (ms from the start) this says. */
  drop?: (ms: number) => boolean;
  /** Edit a video frame's DTS (ms from the start). */
  videoDts?: (ms: number, i: number) => number;
}

/** Headers, then video and audio interleaved by their clean time; timestamps 32-bit as sent. */
function stream(spec: Spec): MediaTag[] {
  const start = spec.startMs ?? 0;
  const at = (ms: number): number => (start + ms) % 2 ** 32;
  const gop = spec.gopFrames ?? 2 * FPS;
  const drop = spec.drop ?? (() => false);
  const media: Array<{ order: number; tag: MediaTag }> = [];
  for (let i = 0; i < spec.seconds * FPS; i++) {
    const j = i % gop;
    if (drop(frameTime(i))) continue;
    const slice = buildSlice({ idr: j === 0, sliceType: j === 0 ? SliceType.I : SliceType.P, frameNum: j % 16 });
    const dts = spec.videoDts ? spec.videoDts(frameTime(i), i) : frameTime(i);
    media.push({ order: frameTime(i), tag: avcFrameTag(at(dts), [slice], j === 0) });
  }
  for (let i = 0; audioTime(i) < spec.seconds * 1000; i++) {
    if (drop(audioTime(i))) continue;
    media.push({ order: audioTime(i) - (spec.audioLeadMs ?? 0), tag: aacFrameTag(at(audioTime(i))) });
  }
  media.sort((a, b) => a.order - b.order);
  return [avcHeaderTag(at(0), buildSps({ fps: FPS }), buildPps()), aacHeaderTag(at(0)), ...media.map((m) => m.tag)];
}

function timelineOf(tags: readonly MediaTag[]): InspectTimeline {
  const t = new TimelineCollector();
  for (const tag of tags) t.push(tag);
  return t.finish();
}

/** Bytes of one track's tags in second `s` of stream time, as kbps (to 0.1). */
function kbpsIn(tags: readonly MediaTag[], type: number, startMs: number, s: number): number {
  const bytes = tags
    .filter((t) => t.tagType === type && Math.floor(streamSeconds(startMs, t.timestampMs)) === s)
    .reduce((sum, t) => sum + t.data.length, 0);
  return Math.round((bytes * 8) / 100) / 10;
}

describe('TimelineCollector: per-second figures and keyframes', () => {
  it('buckets bytes and frames by DTS in s from the first tag, and times keyframe intervals', () => {
    const tags = stream({ seconds: 6, startMs: 5000 });
    const t = timelineOf(tags);
    expect(t.originMs).toBe(5000);
    expect(t.perSecond.atS).toEqual([0, 1, 2, 3, 4, 5]);
    expect(t.perSecond.fps).toEqual([30, 30, 30, 30, 30, 30]);
    for (const s of t.perSecond.atS) {
      expect(t.perSecond.videoKbps[s]).toBe(kbpsIn(tags, TAG_VIDEO, 5000, s));
      expect(t.perSecond.audioKbps[s]).toBe(kbpsIn(tags, TAG_AUDIO, 5000, s));
      expect(t.perSecond.audioKbps[s]).toBeGreaterThan(0);
    }
    expect(t.keyframes).toEqual([
      { atS: 0, intervalS: null },
      { atS: 2, intervalS: 2 },
      { atS: 4, intervalS: 2 },
    ]);
    expect(t.dropped).toEqual({ seconds: 0, keyframes: 0, skew: 0, repairs: 0 });
  });

  it('leaves out a last second the input covers only in part (it would read as a drop)', () => {
    const t = timelineOf(stream({ seconds: 3.3 }));
    expect(t.perSecond.atS).toEqual([0, 1, 2]);
    expect(t.perSecond.fps).toEqual([30, 30, 30]);
    expect(timelineOf(stream({ seconds: 0.5 })).perSecond.atS).toEqual([0]);
  });

  it('keeps counting across a 32-bit wrap, and keyframe intervals stay those of the stream', () => {
    const t = timelineOf(stream({ seconds: 5, startMs: 2 ** 32 - 1500, gopFrames: 45 }));
    expect(t.originMs).toBe(2 ** 32 - 1500);
    expect(t.perSecond.atS).toEqual([0, 1, 2, 3, 4]);
    expect(t.keyframes.map((k) => k.intervalS)).toEqual([null, 1.5, 1.5, 1.5]);
    expect(t.keyframes.map((k) => k.atS)).toEqual([0, 1.5, 3, 4.5]);
  });

  it('marks a gap with zero seconds at its edges, not a line across it', () => {
    const t = timelineOf(stream({ seconds: 8, drop: (ms) => ms >= 2000 && ms < 5000 }));
    expect(t.perSecond.atS).toEqual([0, 1, 2, 4, 5, 6, 7]);
    expect(t.perSecond.fps).toEqual([30, 30, 0, 0, 30, 30, 30]);
    expect(t.perSecond.audioKbps[2]).toBe(0);
  });

  it('times keyframe intervals by DTS: a keyframe stamped 500 ms early gives a 1.5 s interval', () => {
    const t = timelineOf(stream({ seconds: 6, videoDts: (ms, i) => (i === 120 ? ms - 500 : ms) }));
    expect(t.keyframes.map((k) => k.intervalS)).toEqual([null, 2, 1.5]);
  });

  it('samples the A/V skew once per second of stream time, in arrival order', () => {
    const t = timelineOf(stream({ seconds: 6, audioLeadMs: 300 }));
    const seconds = t.skew.map((s) => Math.floor(s.atS));
    expect(seconds).toEqual([0, 1, 2, 3, 4, 5]);
    // Audio runs 300 ms ahead of video: from the second second on, the skew is about +300 ms.
    for (const s of t.skew.slice(1)) {
      expect(s.skewMs).toBeGreaterThan(250);
      expect(s.skewMs).toBeLessThan(350);
    }
  });

  it('keeps at most MAX_TIMELINE_KEYFRAMES keyframes (all-intra), and counts the rest', () => {
    const frame = avcFrameTag(0, [buildSlice({ idr: true, sliceType: SliceType.I, frameNum: 0 })], true);
    const seconds = Math.ceil((MAX_TIMELINE_KEYFRAMES + 3000) / FPS);
    const c = new TimelineCollector();
    for (let i = 0; i < seconds * FPS; i++) c.push({ ...frame, timestampMs: frameTime(i) });
    const t = c.finish();
    expect(t.keyframes.length).toBe(MAX_TIMELINE_KEYFRAMES);
    expect(t.dropped.keyframes).toBe(seconds * FPS - MAX_TIMELINE_KEYFRAMES);
    expect(t.perSecond.atS.length).toBe(seconds);
    expect(t.perSecond.fps.every((f) => f === FPS)).toBe(true);
  });
});

describe('TimelineCollector: repairs as marks', () => {
  it('coalesces one kind within one second into one mark with a count, and keeps kinds apart', () => {
    const c = new TimelineCollector();
    const fed = (ms: number): void => c.push(aacFrameTag(ms));
    const video = 'video' as const;
    fed(1000);
    fed(1100);
    c.repair({ kind: RepairKind.TS_BACKWARDS, track: video, atMs: 1100, amount: 5 });
    fed(1200);
    c.repair({ kind: RepairKind.AAC_TAG_BYTE, track: 'audio', atMs: 1200, amount: 1 });
    fed(1300);
    c.repair({ kind: RepairKind.TS_REPEAT, track: 'audio', atMs: 1300, amount: 1 });
    fed(1400);
    c.repair({ kind: RepairKind.TS_REPEAT, track: video, atMs: 1400, amount: 1 });
    fed(1500);
    c.repair({ kind: RepairKind.TS_BACKWARDS, track: video, atMs: 1500, amount: -40 });
    fed(1999);
    c.repair({ kind: RepairKind.TS_BACKWARDS, track: video, atMs: 1999, amount: 7 });
    fed(2000);
    c.repair({ kind: RepairKind.TS_BACKWARDS, track: video, atMs: 2000, amount: 1 });
    expect(c.finish().marks).toEqual([
      { atS: 0.1, kind: 'ts-backwards', track: 'video', count: 3, maxAmount: 40 },
      { atS: 0.2, kind: 'aac-tag-byte', track: 'audio', count: 1, maxAmount: 1 },
      { atS: 0.3, kind: 'ts-repeat', track: 'both', count: 2, maxAmount: 1 },
      { atS: 1, kind: 'ts-backwards', track: 'video', count: 1, maxAmount: 1 },
    ]);
  });

  it('marks a repair at the time of the tag being fed, whatever clock its atMs is on', () => {
    const c = new TimelineCollector();
    c.push(aacFrameTag(60_000));
    c.push(aacFrameTag(64_500));
    // The interleaver states its repairs in output time, which starts at 0.
    c.repair({ kind: RepairKind.REORDERED, track: 'audio', atMs: 4500, amount: 0 });
    expect(c.finish().marks).toEqual([{ atS: 4.5, kind: 'reordered', track: 'audio', count: 1, maxAmount: 0 }]);
  });

  it('keeps at most MAX_TIMELINE_MARKS marks, and counts the repairs left out', () => {
    const c = new TimelineCollector();
    const extra = 25;
    for (let i = 0; i < MAX_TIMELINE_MARKS + extra; i++) {
      c.push(aacFrameTag(i * 1000));
      c.repair({ kind: RepairKind.CADENCE_SNAP, track: 'video', atMs: i * 1000, amount: 1 });
      // Within a second already marked, a repair still counts on its mark.
      c.repair({ kind: RepairKind.CADENCE_SNAP, track: 'video', atMs: i * 1000, amount: 1 });
    }
    const t = c.finish();
    expect(t.marks.length).toBe(MAX_TIMELINE_MARKS);
    expect(t.marks.every((m) => m.count === 2)).toBe(true);
    expect(t.dropped.repairs).toBe(2 * extra);
  });

  it("takes the dry-run fixer's repair callback: marks count every repair, by kind", () => {
    const c = new TimelineCollector();
    const fixer = new StreamFixer(
      () => {},
      {},
      (r) => c.repair(r),
    );
    const tags = stream({ seconds: 6, startMs: 5000, videoDts: (ms, i) => (i === 40 ? ms - 100 : ms) });
    for (const tag of tags) {
      c.push(tag);
      fixer.push(tag);
    }
    fixer.flush();
    const t = c.finish();
    const counted: RepairSummary = {};
    for (const m of t.marks) {
      const e = counted[m.kind];
      counted[m.kind] = { count: (e?.count ?? 0) + m.count, maxAmount: Math.max(e?.maxAmount ?? 0, m.maxAmount) };
    }
    expect(Object.keys(fixer.repairs).length).toBeGreaterThan(0);
    expect(counted).toEqual(fixer.repairs);
    expect(fixer.repairs[RepairKind.TS_START_OFFSET]?.count).toBe(1);
    // The step back is at frame 40 (1.233 s): its repair is marked there. Every repair lies
    // within the stream, though the fixer moved the stream's start (5 s) to 0.
    expect(t.marks.filter((m) => m.kind === RepairKind.TS_BACKWARDS).map((m) => m.atS)).toEqual([1.233]);
    for (const m of t.marks) expect(m.atS, m.kind).toBeGreaterThanOrEqual(0);
    for (const m of t.marks) expect(m.atS, m.kind).toBeLessThan(6);
  });
});
