/**
 * Property tests (fast-check) of the fixer over real stream tags with injected timestamp
 * faults: per-track monotonic output, A/V skew within its bound, no step over 1 s, no frame
 * lost; in-order input passes unchanged and undelayed; small jitter moves no frame beyond
 * half a frame interval.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { readFlv } from '../flv/flv-reader.js';
import { parseAudioTagBody, parseVideoTagBody } from '../flv/flv-tag.js';
import { ensureFixtures } from '../../fixtures/generate.js';
import { StreamFixer } from './stream-fixer.js';
import { type MediaTag } from '../media/tag-kinds.js';

const isCodedVideo = (t: MediaTag): boolean =>
  t.tagType === 9 && parseVideoTagBody(t.data).packetKind === 'coded-frames';
const isAudioFrame = (t: MediaTag): boolean => t.tagType === 8 && !parseAudioTagBody(t.data).isSequenceHeader;
const isMedia = (t: MediaTag): boolean => isCodedVideo(t) || isAudioFrame(t);

function fixAll(tags: MediaTag[]): { out: MediaTag[]; fixer: StreamFixer } {
  const out: MediaTag[] = [];
  const fixer = new StreamFixer((t) => out.push(t));
  for (const t of tags) fixer.push(t);
  fixer.flush();
  return { out, fixer };
}

/** A fault applied to the tag at a relative position (0..1) of its track. */
interface Fault {
  kind: 'repeat' | 'backwards' | 'jump' | 'restart';
  track: 'audio' | 'video';
  at: number;
  amountMs: number;
}

const faultArb = fc.record({
  kind: fc.constantFrom<'repeat' | 'backwards' | 'jump' | 'restart'>('repeat', 'backwards', 'jump', 'restart'),
  track: fc.constantFrom<'audio' | 'video'>('audio', 'video'),
  at: fc.double({ min: 0.05, max: 0.95, noNaN: true }),
  amountMs: fc.integer({ min: 1, max: 30_000 }),
});

/** Apply faults, a start offset (mod 2^32) and an audio send-ahead lead to clean tags. */
function corrupt(tags: MediaTag[], faults: Fault[], startOffsetMs: number, audioLeadMs: number): MediaTag[] {
  const media = { audio: tags.filter(isAudioFrame), video: tags.filter(isCodedVideo) };
  const shift = new Map<MediaTag, number>();
  for (const f of faults) {
    const list = media[f.track];
    const i = Math.floor(f.at * list.length);
    const tag = list[i] as MediaTag;
    const prev = (list[i - 1] ?? tag).timestampMs;
    if (f.kind === 'repeat') shift.set(tag, prev - tag.timestampMs);
    else if (f.kind === 'backwards') shift.set(tag, -Math.min(f.amountMs, 2000));
    else if (f.kind === 'jump') for (const t of list.slice(i)) shift.set(t, (shift.get(t) ?? 0) + f.amountMs);
    else
      for (const t of [...media.audio, ...media.video].filter((x) => x.timestampMs >= tag.timestampMs))
        shift.set(t, (shift.get(t) ?? 0) - tag.timestampMs);
  }
  const stamped = tags.map((t) => ({
    ...t,
    timestampMs: (((t.timestampMs + (shift.get(t) ?? 0) + startOffsetMs) % 2 ** 32) + 2 ** 32) % 2 ** 32,
  }));
  // Audio leaves `audioLeadMs` early: re-sort the send order, headers and metadata first.
  // The send order follows the clean timeline (faults change stamps, not when tags leave).
  const key = (i: number): number => {
    const original = tags[i] as MediaTag;
    return isMedia(original) ? original.timestampMs - (isAudioFrame(original) ? audioLeadMs : 0) : -1e9;
  };
  return stamped
    .map((t, i) => ({ t, k: key(i), i }))
    .sort((a, b) => a.k - b.k || a.i - b.i)
    .map((x) => x.t);
}

describe('fixer properties', () => {
  let clean: MediaTag[];
  beforeAll(async () => {
    const f = (await ensureFixtures()).find((x) => x.name === 'clean-720p30')!;
    clean = readFlv(readFileSync(f.file)).tags.map((t) => ({
      tagType: t.tagType,
      timestampMs: t.timestampMs,
      data: t.data,
    }));
  }, 300_000);

  it('faults in, clean out: monotonic tracks, A/V within 500 ms, no step over 1 s, no frame lost', () => {
    fc.assert(
      fc.property(
        fc.array(faultArb, { maxLength: 6 }),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.integer({ min: 0, max: 400 }),
        (faults, startOffsetMs, audioLeadMs) => {
          const input = corrupt(clean, faults, startOffsetMs, audioLeadMs);
          const { out, fixer } = fixAll(input);
          expect(fixer.decision).toBeNull();
          const video = out.filter(isCodedVideo).map((t) => t.timestampMs);
          const audio = out.filter(isAudioFrame).map((t) => t.timestampMs);
          expect(video.length).toBe(clean.filter(isCodedVideo).length);
          expect(audio.length).toBe(clean.filter(isAudioFrame).length);
          for (let i = 1; i < video.length; i++) {
            expect(video[i]! > video[i - 1]!).toBe(true);
            expect(video[i]! - video[i - 1]!).toBeLessThanOrEqual(1000);
          }
          for (let i = 1; i < audio.length; i++) {
            expect(audio[i]! >= audio[i - 1]!).toBe(true);
            expect(audio[i]! - audio[i - 1]!).toBeLessThanOrEqual(1000);
          }
          let last = -Infinity;
          const newest: Record<number, number> = {};
          for (const t of out) {
            expect(t.timestampMs).toBeGreaterThanOrEqual(last);
            last = t.timestampMs;
            if (!isMedia(t)) continue;
            newest[t.tagType] = t.timestampMs;
            const other = newest[t.tagType === 8 ? 9 : 8];
            if (other !== undefined) expect(Math.abs(t.timestampMs - other)).toBeLessThanOrEqual(500);
          }
        },
      ),
      { numRuns: 60, seed: 42 },
    );
  });

  it('in-order input comes out unchanged and undelayed (after both tracks started)', () => {
    const out: MediaTag[] = [];
    const fixer = new StreamFixer((t) => out.push(t));
    let started = false;
    for (const t of clean) {
      const before = out.length;
      fixer.push(t);
      if (started && isMedia(t)) {
        const emitted = out.slice(before);
        expect(emitted.map((x) => x.data)).toContain(t.data);
        expect(emitted.find((x) => x.data === t.data)?.timestampMs).toBe(t.timestampMs);
      }
      started ||= out.some(isCodedVideo) && out.some(isAudioFrame);
    }
    fixer.flush();
    expect(out.filter(isMedia).map((t) => t.timestampMs)).toEqual(clean.filter(isMedia).map((t) => t.timestampMs));
    expect(Object.keys(fixer.repairs).filter((k) => k !== 'reordered')).toEqual([]);
  });

  it('small jitter moves no video frame by more than half a frame interval', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -14, max: 14 }), { minLength: 200, maxLength: 200 }), (jitter) => {
        let v = 0;
        const input = clean.map((t) =>
          isCodedVideo(t) && t.timestampMs > 0
            ? { ...t, timestampMs: t.timestampMs + (jitter[v++ % 200] as number) }
            : t,
        );
        const { out } = fixAll(input);
        const inVideo = input.filter(isCodedVideo).map((t) => t.timestampMs);
        const outVideo = out.filter(isCodedVideo).map((t) => t.timestampMs);
        expect(outVideo.length).toBe(inVideo.length);
        const start = outVideo[0]! - inVideo[0]!;
        outVideo.forEach((ts, i) => expect(Math.abs(ts - start - inVideo[i]!)).toBeLessThanOrEqual(1000 / 30 / 2 + 1));
      }),
      { numRuns: 40, seed: 7 },
    );
  });
});
