/** OutageBuffer on synthetic tags: what a new upstream session is sent, and what the bounds drop. */
import { describe, expect, it } from 'vitest';
import { buildAacAudioTagBody, buildAvcVideoTagBody } from '../flv/flv-tag.js';
import { TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO, type MediaTag } from '../media/tag-kinds.js';
import { NOT_SENT, OutageBuffer, SKIPPED, type BufferedTag } from './outage-buffer.js';

const video = (ts: number, key: boolean, bytes = 10, cts = 0): MediaTag => ({
  tagType: TAG_VIDEO,
  timestampMs: ts,
  data: buildAvcVideoTagBody({
    frameType: key ? 1 : 2,
    packetType: 1,
    compositionTimeMs: cts,
    data: Buffer.alloc(bytes),
  }),
});
const videoHeader = (ts = 0, byte = 1): MediaTag => ({
  tagType: TAG_VIDEO,
  timestampMs: ts,
  data: buildAvcVideoTagBody({ frameType: 1, packetType: 0, compositionTimeMs: 0, data: Buffer.from([byte, 2, 3]) }),
});
const audio = (ts: number): MediaTag => ({
  tagType: TAG_AUDIO,
  timestampMs: ts,
  data: buildAacAudioTagBody({ packetType: 1, data: Buffer.alloc(4) }),
});
const audioHeader = (): MediaTag => ({
  tagType: TAG_AUDIO,
  timestampMs: 0,
  data: buildAacAudioTagBody({ packetType: 0, data: Buffer.from([0x12, 0x10]) }),
});
const metadata = (): MediaTag => ({ tagType: TAG_SCRIPT, timestampMs: 0, data: Buffer.from('meta') });

const BIG = { maxMs: 60_000, maxBytes: 1 << 30 };

/** What a session would be sent, in order, as timestamps; each one marked written at `offset` + its index. */
function drain(b: OutageBuffer, offset = 0): number[] {
  const out: number[] = [];
  for (let e = b.nextPending(); e !== undefined; e = b.nextPending()) {
    e.offset = offset + out.length;
    out.push(e.tag.timestampMs);
    b.cursor++;
  }
  return out;
}

/** Push as a live session with nothing pending would: written at once, at byte `offset(i)`. */
function live(b: OutageBuffer, tags: MediaTag[], offset: (ts: number) => number): BufferedTag[] {
  return tags.map((t) => {
    const e = b.push(t);
    if (e.held) e.offset = offset(t.timestampMs);
    b.caughtUp();
    return e;
  });
}

describe('OutageBuffer', () => {
  it('before the first session holds everything from the start, headers apart', () => {
    const b = new OutageBuffer(BIG);
    for (const t of [metadata(), videoHeader(), audioHeader()]) expect(b.push(t).held).toBe(false);
    for (const t of [video(0, true), audio(10), video(33, false), video(66, true), audio(70)]) b.push(t);
    expect(b.headers()).toHaveLength(3);
    expect(b.pendingCount).toBe(5);
    expect(drain(b)).toEqual([0, 10, 33, 66, 70]);
    expect(b.spanMs).toBe(70);
  });

  it('while live, trims to the latest keyframe written before the safe byte; a lost session resends from there', () => {
    const b = new OutageBuffer(BIG);
    // Byte offset = timestamp: the receiver acknowledged everything up to byte 150.
    live(
      b,
      [video(0, true), video(33, false), video(66, true), video(100, false), video(133, true), video(166, false)],
      (ts) => ts,
    );
    b.trimTo(150);
    expect(b.frames).toBe(2);
    b.trimTo(120); // never moves back
    expect(b.frames).toBe(2);
    // The keyframe at 133 is past the safe byte 120: the replay starts at 66.
    const c = new OutageBuffer(BIG);
    live(
      c,
      [video(0, true), video(33, false), video(66, true), video(100, false), video(133, true), video(166, false)],
      (ts) => ts,
    );
    c.endSession(120);
    expect(drain(c)).toEqual([66, 100, 133, 166]);
  });

  it('through an outage keeps everything, then the next session gets it all, in order, timestamps as they were', () => {
    const b = new OutageBuffer(BIG);
    live(b, [video(0, true), audio(10), video(33, false)], (ts) => ts);
    b.endSession(1000);
    for (const t of [video(66, false), audio(70), video(100, true), video(133, false)]) b.push(t);
    expect(b.pendingCount).toBe(7);
    expect(drain(b)).toEqual([0, 10, 33, 66, 70, 100, 133]);
  });

  it('past its span, drops to the next keyframe and counts the frames never sent', () => {
    const dropped: number[] = [];
    const b = new OutageBuffer({ maxMs: 1000, maxBytes: 1 << 30 }, (n) => dropped.push(n));
    for (let ts = 0; ts <= 1500; ts += 100) b.push(video(ts, ts % 500 === 0));
    // At 1100 the span passed 1000 ms: the GOP from 0 (5 frames, never sent) went.
    expect(b.spanMs).toBeLessThanOrEqual(1000);
    expect(drain(b)[0]).toBe(500);
    expect(dropped.reduce((a, n) => a + n, 0)).toBe(5);
  });

  it('past its bytes, with no keyframe to start from, empties and waits for the next one', () => {
    const dropped: number[] = [];
    const b = new OutageBuffer({ maxMs: 60_000, maxBytes: 1000 }, (n) => dropped.push(n));
    b.push(video(0, true, 300));
    for (let ts = 33; ts < 400; ts += 33) b.push(video(ts, false, 300));
    expect(b.frames).toBe(0);
    expect(b.push(video(400, false, 10)).held).toBe(false);
    expect(b.push(video(433, true, 10)).held).toBe(true);
    expect(drain(b)).toEqual([433]);
    expect(dropped.reduce((a, n) => a + n, 0)).toBe(4);
  });

  it('headers in the dropped part become the ones in force; a new header mid-buffer is replayed in place', () => {
    const b = new OutageBuffer({ maxMs: 1000, maxBytes: 1 << 30 });
    b.push(videoHeader(0, 1));
    b.push(video(0, true));
    b.push(video(500, false));
    b.push(videoHeader(1000, 9));
    b.push(video(1000, true));
    b.push(video(1900, false)); // the span pushes the first GOP out, and the new header ahead of its keyframe
    expect(b.headers().map((h) => h.data[5])).toEqual([9]);
    expect(drain(b)).toEqual([1000, 1900]);
    const kept = new OutageBuffer(BIG);
    kept.push(video(0, true));
    kept.push(videoHeader(10, 9));
    expect(kept.pendingCount).toBe(2);
  });

  it('a skipped tag (backpressure) does not stop the trim, and is resent after a reconnect', () => {
    const b = new OutageBuffer(BIG);
    const entries = live(b, [video(0, true), video(33, false), video(66, false), video(100, true)], (ts) => ts);
    entries[1]!.offset = SKIPPED;
    b.trimTo(100);
    expect(b.frames).toBe(1);
    const c = new OutageBuffer(BIG);
    const more = live(c, [video(0, true), video(33, false), video(66, false)], (ts) => ts);
    more[1]!.offset = SKIPPED;
    c.endSession(50);
    expect(drain(c)).toEqual([0, 33, 66]);
    expect(more.every((e) => e.offset !== NOT_SENT)).toBe(true);
  });

  it('keeps the audio just ahead of a resume keyframe, and sends it only when the audio after would start half a frame off', () => {
    // The keyframe at 2000 shows at 2067 (CTS 67); audio every 23 ms. Audio after it at 2017:
    // (2067 - 2017) / 33.3 = 1.5 frames, half a frame off: the audio at 1994 goes first.
    const tags = (afterMs: number): MediaTag[] => [
      video(1967, false),
      audio(afterMs - 23),
      video(2000, true, 10, 67),
      audio(afterMs),
      video(2033, false),
      audio(afterMs + 23),
    ];
    const offAt = (afterMs: number): number[] => {
      const b = new OutageBuffer(BIG);
      live(b, tags(afterMs), (ts) => ts);
      b.endSession(5000);
      b.startReplay();
      return drain(b);
    };
    expect(offAt(2017)).toEqual([1994, 2000, 2017, 2033, 2040]);
    // Audio at 2005: 62 ms = 1.9 frames, on the grid: the audio ahead is not needed.
    expect(offAt(2005)).toEqual([2000, 2005, 2033, 2028]);
  });
});
