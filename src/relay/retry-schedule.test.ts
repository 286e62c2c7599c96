/** The upstream's retry schedule: at most 500 ms apart for the first 30 s, then doubling to 5 s. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_SCHEDULE, retryDelayMs } from './retry-schedule.js';

const S = DEFAULT_RETRY_SCHEDULE;

/** The delays of one outage, attempts failing at once, with a fixed random draw. */
function delays(totalMs: number, random: number): number[] {
  const out: number[] = [];
  let atMs = 0;
  let slow = 0;
  for (let failures = 1; atMs < totalMs; failures++) {
    if (atMs >= S.fastPhaseMs) slow++;
    const d = retryDelayMs(S, failures, atMs, Math.max(0, slow - 1), () => random);
    out.push(d);
    atMs += d;
  }
  return out;
}

describe('retryDelayMs', () => {
  it('starts at 250 ms and stays at most 500 ms apart for the first 30 s', () => {
    const fast = delays(S.fastPhaseMs, 0);
    expect(fast.slice(0, 3)).toEqual([250, 500, 500]);
    expect(Math.max(...fast)).toBe(500);
  });

  it('then backs off, doubling, to at most 5 s', () => {
    const all = delays(90_000, 0);
    const after = all.slice(delays(S.fastPhaseMs, 0).length);
    expect(after.slice(0, 5)).toEqual([500, 1000, 2000, 4000, 5000]);
    expect(Math.max(...all)).toBe(5000);
  });

  it('jitter only shortens a delay, by at most a fifth', () => {
    for (const r of [0, 0.3, 0.999]) {
      const d = retryDelayMs(S, 5, 1000, 0, () => r);
      expect(d).toBeLessThanOrEqual(500);
      expect(d).toBeGreaterThanOrEqual(400);
    }
  });
});
