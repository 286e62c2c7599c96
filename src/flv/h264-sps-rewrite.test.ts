import { describe, expect, it } from 'vitest';
import { parseSps } from './h264-sps.js';
import { maxDpbFrames, raiseMaxNumRefFrames } from './h264-sps-rewrite.js';
import { MediaFormatError } from './errors.js';

// x264 all-intra SPS (Main 3.1, 1280x720, max_num_ref_frames 0, VUI with bitstream restriction).
const INTRA_SPS = Buffer.from('674d401fdc05005bb0110000030001000003003c0f183380', 'hex');

describe('raiseMaxNumRefFrames (H.264 §7.3.2.1.1, Table A-1)', () => {
  it('changes max_num_ref_frames and max_dec_frame_buffering, and nothing else', () => {
    const before = parseSps(INTRA_SPS);
    const raised = raiseMaxNumRefFrames(INTRA_SPS, 2);
    const after = parseSps(raised);
    expect(after.maxNumRefFrames).toBe(2);
    if (before.vui?.bitstreamRestriction) expect(after.vui?.maxDecFrameBuffering).toBe(2);
    const strip = (s: ReturnType<typeof parseSps>): unknown => ({
      ...s,
      maxNumRefFrames: 0,
      fieldBits: null,
      vui: s.vui && { ...s.vui, maxDecFrameBuffering: 0 },
    });
    expect(strip(after)).toEqual(strip(before));
  });

  it('returns the SPS itself when it already allows enough frames', () => {
    const raised = raiseMaxNumRefFrames(INTRA_SPS, 2);
    expect(raiseMaxNumRefFrames(raised, 2)).toBe(raised);
  });

  it('knows the level limit: 720p at level 3.1 holds 5 frames', () => {
    expect(maxDpbFrames(parseSps(INTRA_SPS))).toBe(5);
    expect(() => raiseMaxNumRefFrames(INTRA_SPS, 6)).toThrow(MediaFormatError);
  });
});
