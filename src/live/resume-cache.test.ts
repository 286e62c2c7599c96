/** ResumeCache on synthetic tags built in code: what a (re)started consumer is fed. */
import { describe, expect, it } from 'vitest';
import { buildAacAudioTagBody, buildAvcVideoTagBody } from '../flv/flv-tag.js';
import { TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO, type MediaTag } from '../media/tag-kinds.js';
import { ResumeCache } from './resume-cache.js';

const video = (ts: number, key: boolean, bytes = 10): MediaTag => ({
  tagType: TAG_VIDEO,
  timestampMs: ts,
  data: buildAvcVideoTagBody({
    frameType: key ? 1 : 2,
    packetType: 1,
    compositionTimeMs: 0,
    data: Buffer.alloc(bytes),
  }),
});
const videoHeader = (): MediaTag => ({
  tagType: TAG_VIDEO,
  timestampMs: 0,
  data: buildAvcVideoTagBody({ frameType: 1, packetType: 0, compositionTimeMs: 0, data: Buffer.from([1, 2, 3]) }),
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

describe('ResumeCache', () => {
  it('keeps metadata and headers apart, and the frames from the latest keyframe', () => {
    const c = new ResumeCache({ maxFrames: 100, maxBytes: 1 << 20 });
    expect(c.remember(metadata())).toBe(true);
    expect(c.remember(videoHeader())).toBe(true);
    expect(c.remember(audioHeader())).toBe(true);
    for (const t of [video(0, true), audio(10), video(33, false), video(66, true), audio(70), video(100, false)])
      expect(c.remember(t)).toBe(false);
    expect(c.frames.map((t) => t.timestampMs)).toEqual([66, 70, 100]);
    expect(c.headers().map((t) => t.tagType)).toEqual([TAG_SCRIPT, TAG_VIDEO, TAG_AUDIO]);
  });

  it('holds everything from the start until told to stop (the first connect)', () => {
    const c = new ResumeCache({ maxFrames: 100, maxBytes: 1 << 20 }, true);
    for (const t of [video(0, true), video(33, false), video(66, true)]) c.remember(t);
    expect(c.frames.map((t) => t.timestampMs)).toEqual([0, 33, 66]);
    c.stopHolding();
    c.remember(video(100, true));
    expect(c.frames.map((t) => t.timestampMs)).toEqual([100]);
  });

  it('drops an oversized GOP whole and starts again at the next keyframe', () => {
    const c = new ResumeCache({ maxFrames: 3, maxBytes: 1 << 20 });
    for (const t of [video(0, true), video(33, false), video(66, false), video(100, false)]) c.remember(t);
    expect(c.frames).toEqual([]);
    c.remember(video(133, false));
    expect(c.frames).toEqual([]);
    c.remember(video(166, true));
    expect(c.frames.map((t) => t.timestampMs)).toEqual([166]);
  });

  it('counts bytes against its byte limit', () => {
    const c = new ResumeCache({ maxFrames: 100, maxBytes: 100 });
    c.remember(video(0, true, 40));
    c.remember(video(33, false, 40));
    expect(c.frames).toHaveLength(2);
    c.remember(video(66, false, 40));
    expect(c.frames).toEqual([]);
  });
});
