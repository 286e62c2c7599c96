import { describe, expect, it } from 'vitest';
import { HISTORY_KEEP_MS, HISTORY_PERIOD_MS, StreamHistory } from './stream-history.js';

const T0 = 1_800_000_000_000;

describe('StreamHistory', () => {
  it('closes one point per second with bitrates, frame rate, skew and the largest latency', () => {
    const h = new StreamHistory(T0);
    for (let i = 0; i < 30; i++) {
      h.bytesIn(10_000);
      h.frameOut(true, 9_000, 1000 + i * 33, i === 7 ? 12.5 : 1);
    }
    h.frameOut(false, 400, 1980, null);
    h.sample(T0 + 999);
    expect(h.snapshot().points).toHaveLength(0);
    h.sample(T0 + HISTORY_PERIOD_MS);
    const [p] = h.snapshot().points;
    expect(p).toEqual({
      t: T0 + HISTORY_PERIOD_MS,
      inKbps: 2400,
      outKbps: Math.round(((30 * 9000 + 400) * 8) / 1000),
      fps: 30,
      skewMs: 1980 - (1000 + 29 * 33),
      latencyMs: 12.5,
    });
  });

  it('gives empty seconds as zero points, and nothing past what it keeps', () => {
    const h = new StreamHistory(T0);
    h.sample(T0 + 3 * HISTORY_PERIOD_MS);
    const points = h.snapshot().points;
    expect(points.map((p) => p.t)).toEqual([1, 2, 3].map((k) => T0 + k * HISTORY_PERIOD_MS));
    expect(points.every((p) => p.inKbps === 0 && p.fps === 0 && p.skewMs === null && p.latencyMs === null)).toBe(true);
    h.sample(T0 + 10 * HISTORY_KEEP_MS);
    const kept = h.snapshot().points;
    expect(kept.length).toBeLessThanOrEqual(HISTORY_KEEP_MS / HISTORY_PERIOD_MS + 1);
    expect(T0 + 10 * HISTORY_KEEP_MS - (kept[0] as { t: number }).t).toBeLessThanOrEqual(HISTORY_KEEP_MS);
  });

  it('counts a repeated mark within a second on one mark, and marks mode and filler changes', () => {
    const h = new StreamHistory(T0);
    h.mark('repair', 'ts-raised', T0 + 10);
    h.mark('repair', 'ts-raised', T0 + 500);
    h.mark('repair', 'ts-raised', T0 + 1500);
    h.state('remux', 'idle', T0 + 1600);
    h.state('remux', 'filling', T0 + 1700);
    h.state('transcode', 'idle', T0 + 1800);
    const marks = h.snapshot().marks;
    expect(marks.map((m) => [m.kind, m.detail, m.count])).toEqual([
      ['repair', 'ts-raised', 2],
      ['repair', 'ts-raised', 1],
      ['gap-filler', 'filling', 1],
      ['mode', 'remux -> transcode', 1],
      ['gap-filler', 'idle', 1],
    ]);
  });

  it('counts each kind up on its own mark when repairs of several kinds alternate within a second', () => {
    const h = new StreamHistory(T0);
    for (let i = 0; i < 30; i++) {
      h.mark('repair', 'audio-clock', T0 + i * 30);
      h.mark('repair', 'nal-reframed', T0 + i * 30 + 1);
    }
    h.sample(T0 + HISTORY_PERIOD_MS);
    h.mark('repair', 'audio-clock', T0 + 1100);
    expect(h.snapshot().marks.map((m) => [m.detail, m.count])).toEqual([
      ['audio-clock', 30],
      ['nal-reframed', 30],
      ['audio-clock', 1],
    ]);
  });

  it('hands out only what came after `since`, with the contract keyframe bounds', () => {
    const h = new StreamHistory(T0);
    h.keyframe(2000, T0 + 100);
    h.keyframe(4000, T0 + 2100);
    h.sample(T0 + 2 * HISTORY_PERIOD_MS);
    const all = h.snapshot();
    expect(all.keyframes.map((k) => k.intervalS)).toEqual([2, 4]);
    expect(all.keyframeBoundsS).toEqual({ min: 1.9, max: 10 });
    const later = h.snapshot(T0 + HISTORY_PERIOD_MS);
    expect(later.keyframes.map((k) => k.intervalS)).toEqual([4]);
    expect(later.points.map((p) => p.t)).toEqual([T0 + 2 * HISTORY_PERIOD_MS]);
  });
});
