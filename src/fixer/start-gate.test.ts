/** StartGate on synthetic timestamps: both tracks mapped from one base, late starts kept. */
import { describe, expect, it } from 'vitest';
import { StartGate } from './start-gate.js';

function gate(windowMs = 500): { g: StartGate; ran: string[] } {
  return { g: new StartGate(windowMs), ran: [] };
}

describe('StartGate', () => {
  it('holds the first track until the other arrives, then runs both in arrival order', () => {
    const { g, ran } = gate();
    expect(g.hold('audio', 140, () => ran.push('a140'))).toBe(true);
    expect(g.hold('audio', 163, () => ran.push('a163'))).toBe(true);
    expect(ran).toEqual([]);
    expect(g.hold('video', 0, () => ran.push('v0'))).toBe(true);
    expect(ran).toEqual(['a140', 'a163', 'v0']);
    expect(g.hold('video', 66, () => ran.push('v66'))).toBe(false);
  });

  it('starts a track that comes later than the other later, whichever arrived first', () => {
    const { g } = gate();
    g.hold('audio', 140, () => undefined);
    g.hold('video', 0, () => undefined);
    expect(g.startOut('audio', 140, 0)).toBe(140);
    expect(g.startOut('video', 0, 0)).toBe(0);
  });

  it('opens after one track has run the window alone', () => {
    const { g, ran } = gate(500);
    g.hold('video', 1000, () => ran.push('v'));
    g.hold('video', 1400, () => ran.push('v'));
    expect(ran).toHaveLength(0);
    g.hold('video', 1500, () => ran.push('v'));
    expect(ran).toHaveLength(3);
    expect(g.startOut('video', 1000, 0)).toBe(0);
    // The other track, a moment later, keeps its offset from the base.
    expect(g.startOut('audio', 1300, 0)).toBe(300);
  });

  it('does not align tracks whose clocks are far apart', () => {
    const { g } = gate();
    g.hold('video', 0, () => undefined);
    g.hold('audio', 3_600_000, () => undefined);
    expect(g.startOut('video', 0, 0)).toBe(0);
    expect(g.startOut('audio', 3_600_000, 33)).toBe(33);
  });

  it('restarts a new publish from one output point, keeping the offset between the tracks', () => {
    const { g } = gate();
    g.hold('video', 0, () => undefined);
    g.hold('audio', 0, () => undefined);
    g.startOut('video', 0, 0);
    g.startOut('audio', 0, 0);
    g.restart(5000);
    expect(g.needsStart('video')).toBe(true);
    g.hold('video', 0, () => undefined);
    g.hold('audio', 140, () => undefined);
    expect(g.startOut('video', 0, 0)).toBe(5000);
    expect(g.startOut('audio', 140, 0)).toBe(5140);
    expect(g.needsStart('audio')).toBe(false);
  });

  it('release() runs what is held (end of stream with one track)', () => {
    const { g, ran } = gate();
    g.hold('audio', 0, () => ran.push('a'));
    g.release();
    expect(ran).toEqual(['a']);
    expect(g.hold('audio', 23, () => ran.push('b'))).toBe(false);
  });
});
