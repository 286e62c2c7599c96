/** TrackTimeline, ClockShifts, VideoCadence and AudioClock on synthetic timestamps. */
import { describe, expect, it } from 'vitest';
import { RepairKind, type RepairRecord } from './repairs.js';
import { AudioClock, ClockShifts, TrackTimeline, VideoCadence } from './track-timeline.js';

const FRAME = 1000 / 30;

/** Raw 30 fps stamps (ms-rounded) from `fromMs`, `n` of them. */
function stamps(fromMs: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.round(fromMs + i * FRAME));
}

function run(t: TrackTimeline, raws: number[], repairs: RepairRecord[] = []): number[] {
  return raws.map((raw) => t.next(raw, (r) => repairs.push(r)));
}

describe('TrackTimeline', () => {
  it('passes a regular clock through and measures its frame interval', () => {
    const t = new TrackTimeline('video', 40);
    t.start(0, 0);
    const out = run(t, stamps(0, 31).slice(1));
    expect(out).toEqual(stamps(0, 31).slice(1));
    expect(t.measured).toBe(true);
    expect(t.frameDurationMs).toBeCloseTo(FRAME, 0);
  });

  it('a stray backward stamp is moved forward and the clock goes on as before', () => {
    const t = new TrackTimeline('video', FRAME);
    t.start(0, 0);
    const raws = stamps(0, 20).slice(1);
    raws[9] = (raws[8] as number) - 40;
    const repairs: RepairRecord[] = [];
    const out = run(t, raws, repairs);
    expect(repairs.map((r) => r.kind)).toEqual([RepairKind.TS_BACKWARDS]);
    expect(out.slice(10)).toEqual(stamps(0, 20).slice(11));
  });

  it('a clock that steps back and stays there is followed at its own pace, without drift', () => {
    const t = new TrackTimeline('video', FRAME);
    t.start(0, 0);
    const before = stamps(0, 60);
    const after = stamps(2000 - 200, 300); // the clock went back 200 ms at 2 s
    const out = run(t, [...before.slice(1), ...after]);
    const stepped = out.slice(before.length - 1);
    // After the repair every step is the source's own: no per-frame estimate, so no drift.
    for (let i = 2; i < stepped.length; i++)
      expect((stepped[i] as number) - (stepped[i - 1] as number)).toBeCloseTo(
        (after[i] as number) - (after[i - 1] as number),
        6,
      );
    // Shifted once, by about the step.
    expect((stepped[stepped.length - 1] as number) - (after[after.length - 1] as number)).toBeGreaterThan(195);
    expect((stepped[stepped.length - 1] as number) - (after[after.length - 1] as number)).toBeLessThan(240);
  });

  it('both tracks map a shared restart alike through ClockShifts', () => {
    const shifts = new ClockShifts();
    const v = new TrackTimeline('video', FRAME, shifts);
    const a = new TrackTimeline('audio', 1024000 / 44100, shifts);
    v.start(0, 0);
    a.start(0, 0);
    run(v, stamps(0, 90).slice(1)); // to 2967
    const audio = Array.from({ length: 129 }, (_, i) => Math.round((i + 1) * (1024000 / 44100))); // to 2995
    run(a, audio);
    // Both clocks restart at 0 (the video at its keyframe, the audio 10 ms later).
    const vOut = v.next(0, () => undefined);
    const aOut = a.next(10, () => undefined);
    expect(aOut - vOut).toBe(10);
  });

  it('a jump of one track alone is closed for that track only', () => {
    const shifts = new ClockShifts();
    const v = new TrackTimeline('video', FRAME, shifts);
    v.start(0, 0);
    run(v, stamps(0, 30).slice(1));
    const repairs: RepairRecord[] = [];
    const out = v.next(Math.round(30 * FRAME) + 3000, (r) => repairs.push(r));
    expect(repairs[0]?.kind).toBe(RepairKind.TS_JUMP);
    expect(out).toBeCloseTo(30 * FRAME, -1);
  });
});

describe('VideoCadence', () => {
  it('keeps frames already on the grid, and a small change of interval does not move them', () => {
    const c = new VideoCadence();
    c.setFrameDuration(FRAME);
    const raws = stamps(0, 30);
    const out = raws.map((r, i) => {
      if (i === 15) c.setFrameDuration(33.3); // a measured interval, as precise as a measurement is
      return Math.round(c.snap(r));
    });
    expect(out).toEqual(raws);
  });

  it('after reset() the next frame starts a new grid', () => {
    const c = new VideoCadence();
    c.setFrameDuration(FRAME);
    c.snap(0);
    c.snap(33);
    c.reset();
    expect(c.snap(5000)).toBe(5000);
    expect(Math.round(c.snap(5033))).toBe(5033);
  });
});

describe('AudioClock', () => {
  it('counts samples from its anchor, and reset() re-anchors', () => {
    const clock = new AudioClock();
    clock.setSampleRate(44100);
    expect(clock.next(0, 1024)).toBe(0);
    expect(clock.next(30, 1024)).toBeCloseTo(1024000 / 44100, 6);
    clock.reset();
    expect(clock.next(5000, 1024)).toBe(5000);
  });
});

describe('VideoCadence before the rate is measured', () => {
  it('does not stack frames that come twice as fast as an SPS claims', () => {
    const c = new VideoCadence();
    c.setFrameDuration(1000 / 15); // the SPS says 15 fps; frames come at 30
    const raws = stamps(0, 8);
    const out = raws.map((r) => Math.round(c.snap(r, false)));
    for (let i = 1; i < out.length; i++) expect((out[i] as number) - (out[i - 1] as number)).toBeGreaterThanOrEqual(20);
  });
});
