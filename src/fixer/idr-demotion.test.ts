/**
 * IdrDemoter on synthetic H.264 built in code: an IDR it is asked to demote (the caller found
 * it under the minimum keyframe interval) becomes a non-IDR I slice that the slice parser
 * reads back with continued frame_num and POC; one it is not asked to demote, or cannot
 * rewrite, goes out as it came, with the reason.
 */
import { describe, expect, it } from 'vitest';
import { BitReader, nalToRbsp } from '../flv/bit-reader.js';
import { MediaFormatError, MediaFormatErrorCode } from '../flv/errors.js';
import { ParameterSets, type SliceHeader } from '../flv/h264-slice.js';
import { rewriteSlice } from '../flv/h264-slice-rewrite.js';
import { nalType, NalType } from '../flv/nal-units.js';
import { IdrDemoter, type DemotionResult } from './idr-demotion.js';
import {
  buildPps,
  buildSlice,
  buildSps,
  DEFAULT_PAYLOAD,
  DEFAULT_SPS,
  SliceType,
  type PpsSpec,
  type SliceSpec,
  type SpsSpec,
} from './synthetic-h264.test-support.js';

interface Stream {
  params: ParameterSets;
  demoter: IdrDemoter;
  slice: (s: SliceSpec) => Buffer;
  header: (nal: Buffer) => SliceHeader;
}

function stream(sps: SpsSpec = {}, pps: PpsSpec = {}): Stream {
  const params = new ParameterSets();
  params.addSps(buildSps(sps));
  params.addPps(buildPps(pps));
  return {
    params,
    demoter: new IdrDemoter(params),
    slice: (s) => buildSlice(s, sps, pps),
    header: (nal) => params.sliceHeader(nal),
  };
}

/** A kept IDR (POC 0), then P pictures with frame_num 1.. and POC 2, 4, ... */
function keptGop(s: Stream, pictures: number): void {
  expect(s.demoter.frame([s.slice({ idr: true, frameNum: 0, pocLsb: 0 })], true, false).demoted).toBe(false);
  for (let i = 1; i <= pictures; i++)
    s.demoter.frame([s.slice({ idr: false, frameNum: i, pocLsb: 2 * i })], false, false);
}

/** What follows pic_order_cnt_lsb in a CAVLC non-IDR I slice of the default SPS/PPS (§7.3.3). */
function intraTail(
  nal: Buffer,
  payloadBytes: number,
): { adaptive: boolean; qpDelta: number; deblock: number; payload: Buffer } {
  const r = new BitReader(nalToRbsp(nal.subarray(1)));
  r.ue(); // first_mb_in_slice
  r.ue(); // slice_type
  r.ue(); // pic_parameter_set_id
  r.u(DEFAULT_SPS.log2MaxFrameNum);
  r.u(DEFAULT_SPS.log2MaxPicOrderCntLsb);
  const adaptive = r.flag();
  const qpDelta = r.se();
  const deblock = r.ue();
  const payload = Buffer.from(Array.from({ length: payloadBytes }, () => r.u(8)));
  return { adaptive, qpDelta, deblock, payload };
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return null;
}

const unchangedBy = (r: DemotionResult, input: Buffer[]): void => {
  expect(r.nals).toBe(input);
  expect(r.demoted).toBe(false);
  expect(r.renumbered).toBe(false);
};

describe('IdrDemoter', () => {
  it('rewrites an IDR asked to be demoted as a non-IDR I slice with frame_num and POC continued', () => {
    const s = stream();
    keptGop(s, 2); // frame_num 0..2, POC 0..4
    const idr = [s.slice({ idr: true, frameNum: 0, pocLsb: 0, idrPicId: 1, qpDelta: -3 })];
    const r = s.demoter.frame(idr, true, true);
    expect(r).toMatchObject({ demoted: true, renumbered: true, refusedBecause: null });
    const out = r.nals[0] as Buffer;
    expect(nalType(out)).toBe(NalType.SLICE);
    expect((out[0] as number) >> 5).toBe(3); // nal_ref_idc kept
    expect(s.header(out)).toMatchObject({
      nalType: 1,
      sliceKind: 'I',
      frameNum: 3, // the last reference picture's + 1
      idrPicId: null,
      picOrderCntLsb: 6, // above the highest POC so far (4) by one step
    });
    // Sliding-window marking; the rest of the header and the slice data as they were.
    expect(intraTail(out, DEFAULT_PAYLOAD.length)).toEqual({
      adaptive: false,
      qpDelta: -3,
      deblock: 1,
      payload: DEFAULT_PAYLOAD,
    });
  });

  it('renumbers the pictures after a demoted IDR until the next kept one', () => {
    const s = stream();
    keptGop(s, 2);
    s.demoter.frame([s.slice({ idr: true, frameNum: 0, pocLsb: 0, idrPicId: 1 })], true, true);
    const p = [s.slice({ idr: false, frameNum: 1, pocLsb: 2 })];
    const r = s.demoter.frame(p, false, false);
    expect(r).toMatchObject({ demoted: false, renumbered: true });
    expect(s.header(r.nals[0] as Buffer)).toMatchObject({ nalType: 1, sliceKind: 'P', frameNum: 4, picOrderCntLsb: 8 });
    // A kept IDR ends it: it and what follows go out untouched.
    const kept = [s.slice({ idr: true, frameNum: 0, pocLsb: 0, idrPicId: 2 })];
    unchangedBy(s.demoter.frame(kept, true, false), kept);
    const after = [s.slice({ idr: false, frameNum: 1, pocLsb: 2 })];
    unchangedBy(s.demoter.frame(after, false, false), after);
  });

  it('leaves an IDR alone when not asked to demote it (the interval is long enough)', () => {
    const s = stream();
    keptGop(s, 2);
    const idr = [s.slice({ idr: true, frameNum: 0, pocLsb: 0, idrPicId: 1 })];
    const r = s.demoter.frame(idr, true, false);
    unchangedBy(r, idr);
    expect(r.refusedBecause).toBeNull();
    expect(nalType(r.nals[0] as Buffer)).toBe(NalType.IDR);
  });

  it('wraps frame_num modulo MaxFrameNum and rewrites every slice of the picture', () => {
    const s = stream();
    keptGop(s, 15); // log2_max_frame_num 4: frame_num 15 is the last before the wrap
    const idr = [
      s.slice({ idr: true, frameNum: 0, pocLsb: 0, idrPicId: 1, firstMb: 0 }),
      s.slice({ idr: true, frameNum: 0, pocLsb: 0, idrPicId: 1, firstMb: 120 }),
    ];
    const r = s.demoter.frame(idr, true, true);
    expect(r.demoted).toBe(true);
    expect(r.nals.map((n) => s.header(n))).toMatchObject([
      { nalType: 1, firstMbInSlice: 0, frameNum: 0, picOrderCntLsb: 32 },
      { nalType: 1, firstMbInSlice: 120, frameNum: 0, picOrderCntLsb: 32 },
    ]);
  });

  it('demotes a CABAC IDR and copies the byte-aligned slice data unchanged', () => {
    const s = stream({ profileIdc: 77 }, { cabac: true });
    keptGop(s, 1);
    const r = s.demoter.frame([s.slice({ idr: true, frameNum: 0, pocLsb: 0, idrPicId: 1 })], true, true);
    expect(r.demoted).toBe(true);
    const out = r.nals[0] as Buffer;
    expect(s.header(out)).toMatchObject({ nalType: 1, sliceKind: 'I', frameNum: 2, picOrderCntLsb: 4 });
    const rbsp = nalToRbsp(out.subarray(1));
    // Slice data, then rbsp_stop_one_bit and alignment: 0x80.
    expect(rbsp.subarray(rbsp.length - DEFAULT_PAYLOAD.length - 1)).toEqual(
      Buffer.concat([DEFAULT_PAYLOAD, Buffer.from([0x80])]),
    );
  });

  it('refuses the first IDR: there is no numbering to continue', () => {
    const s = stream();
    const idr = [s.slice({ idr: true, frameNum: 0, pocLsb: 0 })];
    const r = s.demoter.frame(idr, true, true);
    unchangedBy(r, idr);
    expect(r.refusedBecause).toBe('picture numbering unknown since the last kept IDR');
  });

  it.each([
    ['field coding', { frameMbsOnly: false }],
    ['pic_order_cnt_type 1', { picOrderCntType: 1 as const }],
  ])('refuses to demote with %s', (reason, sps) => {
    const s = stream(sps);
    keptGop(s, 1);
    const idr = [s.slice({ idr: true, frameNum: 0, pocLsb: 0, idrPicId: 1 })];
    const r = s.demoter.frame(idr, true, true);
    unchangedBy(r, idr);
    expect(r.refusedBecause).toBe(reason);
  });

  it.each([
    ['an IDR of P slices', { sliceType: SliceType.P }, 'IDR slice of type 0 (not I)'],
    ['an IDR marked long-term', { longTerm: true }, 'IDR marked as a long-term reference'],
  ])('skips %s with the rewriter’s coded error, and keeps it as an IDR', (_, spec, message) => {
    const s = stream();
    keptGop(s, 1);
    const idr = [s.slice({ idr: true, frameNum: 0, pocLsb: 0, idrPicId: 1, ...spec })];
    const err = thrown(() =>
      rewriteSlice(idr[0] as Buffer, s.params.spsForPps(0)!, s.params.ppsById(0)!, {
        frameNum: 1,
        picOrderCntLsb: 0,
        demoteIdr: true,
      }),
    );
    expect(err).toBeInstanceOf(MediaFormatError);
    expect(err).toMatchObject({ code: MediaFormatErrorCode.H264_SLICE, message });
    const r = s.demoter.frame(idr, true, true);
    unchangedBy(r, idr);
    expect(r.refusedBecause).toBe(message);
    // Kept: the numbering restarts there, and the next IDR can be demoted.
    s.demoter.frame([s.slice({ idr: false, frameNum: 1, pocLsb: 2 })], false, false);
    const next = s.demoter.frame([s.slice({ idr: true, frameNum: 0, pocLsb: 0, idrPicId: 2 })], true, true);
    expect(next.demoted).toBe(true);
    expect(s.header(next.nals[0] as Buffer)).toMatchObject({ frameNum: 2, picOrderCntLsb: 4 });
  });

  it('loses the numbering on an unreadable picture and demotes nothing until the next kept IDR', () => {
    const s = stream();
    keptGop(s, 1);
    const unknownPps = [s.slice({ idr: false, frameNum: 2, pocLsb: 4, ppsId: 5 })];
    const r = s.demoter.frame(unknownPps, false, true);
    unchangedBy(r, unknownPps);
    expect(r.refusedBecause).toBe('slice names PPS 5, which is unknown');
    const idr = [s.slice({ idr: true, frameNum: 0, pocLsb: 0, idrPicId: 1 })];
    expect(s.demoter.frame(idr, true, true).refusedBecause).toBe('picture numbering unknown since the last kept IDR');
    s.demoter.frame([s.slice({ idr: false, frameNum: 1, pocLsb: 2 })], false, false);
    expect(s.demoter.frame([s.slice({ idr: true, frameNum: 0, pocLsb: 0, idrPicId: 2 })], true, true).demoted).toBe(
      true,
    );
  });

  it('passes a frame without a slice, saying so only when a demotion was asked', () => {
    const s = stream();
    const sei = [Buffer.from([0x06, 0x05, 0x01, 0x00, 0x80])];
    expect(s.demoter.frame(sei, false, false).refusedBecause).toBeNull();
    const r = s.demoter.frame(sei, true, true);
    unchangedBy(r, sei);
    expect(r.refusedBecause).toBe('no slice');
  });
});
