/** Interleaver on synthetic tags: DTS order, no delay for in-order input, bounded hold, clamps. */
import { describe, expect, it } from 'vitest';
import { TAG_AUDIO, TAG_VIDEO, type MediaTag } from '../media/tag-kinds.js';
import { Interleaver } from './interleaver.js';
import type { RepairRecord } from './repairs.js';

function setup(windowMs = 500): { il: Interleaver; out: MediaTag[]; repairs: RepairRecord[] } {
  const out: MediaTag[] = [];
  const repairs: RepairRecord[] = [];
  const il = new Interleaver(
    windowMs,
    (t) => out.push(t),
    (r) => repairs.push(r),
  );
  return { il, out, repairs };
}
const tag = (tagType: number, ts: number): MediaTag => ({ tagType, timestampMs: ts, data: Buffer.from([ts & 0xff]) });
const push = (il: Interleaver, track: 'audio' | 'video', ts: number): void =>
  il.push(track, ts, tag(track === 'audio' ? TAG_AUDIO : TAG_VIDEO, ts));

describe('Interleaver', () => {
  it('passes in-order input at once, in DTS order', () => {
    const { il, out } = setup();
    push(il, 'video', 0);
    push(il, 'audio', 0);
    const before = out.length;
    push(il, 'audio', 23);
    expect(out.length).toBeGreaterThan(before); // within one frame of the other track: no wait
    push(il, 'video', 33);
    push(il, 'audio', 46);
    il.flush();
    const ts = out.map((t) => t.timestampMs);
    expect(ts).toEqual([...ts].sort((a, b) => a - b));
    expect(out).toHaveLength(5);
  });

  it('holds a track that runs ahead until the other catches up, within the window', () => {
    const { il, out, repairs } = setup(500);
    push(il, 'video', 0);
    push(il, 'audio', 0);
    for (let ts = 23; ts <= 300; ts += 23) push(il, 'audio', ts); // audio 300 ms ahead
    const heldAudio = out.filter((t) => t.tagType === TAG_AUDIO).length;
    expect(heldAudio).toBeLessThan(13);
    for (let ts = 33; ts <= 330; ts += 33) push(il, 'video', ts);
    il.flush();
    const ts = out.map((t) => t.timestampMs);
    expect(ts).toEqual([...ts].sort((a, b) => a - b));
    expect(repairs.some((r) => r.kind === 'reordered')).toBe(true);
  });

  it('stamps a tag that comes behind what was sent forward, never onto its own track', () => {
    const { il, out, repairs } = setup(100);
    push(il, 'video', 0);
    push(il, 'audio', 0);
    for (let ts = 23; ts <= 250; ts += 23) push(il, 'audio', ts); // past the window: released alone
    push(il, 'video', 33); // behind the audio already sent
    push(il, 'video', 66);
    il.flush();
    const video = out.filter((t) => t.tagType === TAG_VIDEO).map((t) => t.timestampMs);
    for (let i = 1; i < video.length; i++) expect(video[i]).toBeGreaterThan(video[i - 1] as number);
    expect(repairs.some((r) => r.kind === 'reorder-clamped')).toBe(true);
  });
});
