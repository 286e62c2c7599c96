/**
 * GapBridge on a synthetic stream with fake timers: when a run starts, how it follows the
 * wall clock, when it stops, and what it reports.
 */
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StreamFixer } from '../fixer/stream-fixer.js';
import {
  aacFrameTag,
  aacHeaderTag,
  avcFrameTag,
  avcHeaderTag,
  buildPps,
  buildSlice,
  buildSps,
  SliceType,
} from '../fixer/synthetic-h264.test-support.js';
import { TAG_VIDEO, type MediaTag } from '../media/tag-kinds.js';
import { GapBridge, type GapFillerOptions } from './gap-bridge.js';
import { SessionTicker } from '../media/session-ticker.js';

const FPS = 25;
const FRAME_MS = 1000 / FPS;
const SPS = { fps: FPS, log2MaxFrameNum: 8, log2MaxPicOrderCntLsb: 10 };

function setup(options: Partial<GapFillerOptions> = {}) {
  const out: MediaTag[] = [];
  const fixer = new StreamFixer((t) => out.push(t), { gapFiller: true, maxKeyframeIntervalMs: 9800 });
  const bridge = new GapBridge({
    fixer,
    options: { enabled: true, maxMs: null, marginMs: 500, ...options },
    graceMs: 10_000,
    log: () => pino({ level: 'silent' }),
    allowed: () => true,
  });
  fixer.push(avcHeaderTag(0, buildSps(SPS), buildPps()));
  fixer.push(aacHeaderTag(0));
  /** Frame `i` of a publish, pushed now (real time), with audio alongside. */
  const frame = (i: number): void => {
    const ts = Math.round(i * FRAME_MS);
    const n = i % 50;
    const nal = buildSlice(
      { idr: n === 0, sliceType: n === 0 ? SliceType.I : SliceType.P, frameNum: n, pocLsb: 2 * n },
      SPS,
    );
    fixer.push(aacFrameTag(ts));
    fixer.push(avcFrameTag(ts, [nal], n === 0));
    bridge.mediaArrived(Date.now());
  };
  return { out, fixer, bridge, frame };
}

const videoTs = (out: MediaTag[]): number[] =>
  out.filter((t) => t.tagType === TAG_VIDEO && t.data[1] === 1).map((t) => t.timestampMs);

describe('GapBridge', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(1_000_000);
  });
  afterEach(() => vi.useRealTimers());

  it('starts one frame plus the margin after the last media, keeps the output on the wall clock, stops at the IDR', () => {
    const { out, fixer, bridge, frame } = setup();
    for (let i = 0; i < 75; i++) {
      frame(i);
      vi.advanceTimersByTime(FRAME_MS);
    }
    fixer.flush();
    const lastReal = Math.max(...videoTs(out));
    vi.advanceTimersByTime(400);
    bridge.check(Date.now(), false);
    expect(bridge.describe().state, 'not yet: within the margin').toBe('idle');
    vi.advanceTimersByTime(200);
    bridge.check(Date.now(), false);
    expect(bridge.describe()).toMatchObject({ state: 'filling', reason: 'reconnect', runs: 1 });
    vi.advanceTimersByTime(2000);
    // The output is where the wall clock says: the last frame's time plus the time since.
    const reached = Math.max(...videoTs(out));
    expect(Math.abs(reached - (lastReal + 2600 + FRAME_MS))).toBeLessThanOrEqual(FRAME_MS * 1.5);
    fixer.newPublish();
    for (let i = 0; i < 10; i++) {
      frame(i);
      vi.advanceTimersByTime(FRAME_MS);
    }
    expect(fixer.filling).toBe(false);
    const described = bridge.describe();
    expect(described.state).toBe('idle');
    expect(described.videoFrames).toBeGreaterThanOrEqual(Math.floor(2600 / FRAME_MS) - 1);
    expect(described.seconds).toBeGreaterThan(2.5);
  });

  it('stops after the longest run; a stall is reported as one', () => {
    const { bridge, frame } = setup({ maxMs: 1000 });
    for (let i = 0; i < 30; i++) {
      frame(i);
      vi.advanceTimersByTime(FRAME_MS);
    }
    vi.advanceTimersByTime(600);
    bridge.check(Date.now(), true);
    expect(bridge.describe()).toMatchObject({ state: 'filling', reason: 'stall' });
    vi.advanceTimersByTime(1200);
    expect(bridge.describe().state).toBe('idle');
    const frames = bridge.describe().videoFrames;
    vi.advanceTimersByTime(1000);
    bridge.check(Date.now(), true);
    expect(bridge.describe().videoFrames, 'no new run until media comes').toBe(frames);
  });

  it('off: nothing runs', () => {
    const { bridge, frame } = setup({ enabled: false });
    frame(0);
    vi.advanceTimersByTime(5000);
    bridge.check(Date.now(), false);
    expect(bridge.describe()).toMatchObject({ enabled: false, state: 'idle', runs: 0 });
  });
});

describe('SessionTicker', () => {
  it('one timer while checks are registered, none after', () => {
    vi.useFakeTimers();
    try {
      const ticker = new SessionTicker(100);
      const seen: number[] = [];
      const removeA = ticker.add(() => seen.push(1));
      const removeB = ticker.add(() => seen.push(2));
      expect(vi.getTimerCount()).toBe(1);
      vi.advanceTimersByTime(250);
      expect(seen).toEqual([1, 2, 1, 2]);
      removeA();
      removeB();
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
