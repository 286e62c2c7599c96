/**
 * Composition time from POC on synthetic slices: nothing changes until a B slice comes with
 * CTS 0 (or a new configuration allowing reordering arrives with an IDR at CTS 0); from then
 * on frames sent with CTS 0 get pts = last IDR DTS + (POC / 2 + reorder delay) frames, and a
 * stream that needs it with pic_order_cnt_type 1 is a transcode decision.
 */
import { describe, expect, it } from 'vitest';
import { PocComposition } from './poc-composition.js';
import { RepairKind, TranscodeReason, type RepairRecord } from './repairs.js';
import {
  buildPps,
  buildSlice,
  buildSps,
  SliceType,
  type SliceSpec,
  type SpsSpec,
} from './synthetic-h264.test-support.js';
import { ReceivedParameterSets, type PendingVideo } from './video-ingest.js';

const FRAME_MS = 40;

function composition(sps: SpsSpec = {}) {
  const sets = new ReceivedParameterSets();
  sets.set([buildSps(sps)], [buildPps()]);
  const repairs: RepairRecord[] = [];
  const decisions: string[] = [];
  const poc = new PocComposition({
    sets,
    frameDurationMs: () => FRAME_MS,
    repair: (r) => repairs.push(r),
    decide: (reason) => decisions.push(reason),
  });
  const frame = (slice: SliceSpec, cts = 0): PendingVideo => ({
    rawTs: 0,
    nals: [buildSlice(slice, sps)],
    cts,
    flagKey: slice.idr,
    passthrough: null,
  });
  return { sets, poc, repairs, decisions, frame };
}

const B = (frameNum: number, pocLsb: number): SliceSpec => ({
  idr: false,
  sliceType: SliceType.B,
  nalRefIdc: 0,
  frameNum,
  pocLsb,
});

describe('PocComposition', () => {
  it('keeps CTS 0 on a stream without B slices', () => {
    const { poc, repairs, frame } = composition();
    poc.idrAt(0);
    expect(poc.cts(frame({ idr: true, frameNum: 0, pocLsb: 0 }), 0)).toBe(0);
    expect(poc.cts(frame({ idr: false, frameNum: 1, pocLsb: 2 }), 40)).toBe(0);
    expect(repairs).toEqual([]);
  });

  it('derives CTS from POC from the first B slice with CTS 0 on, counting from the last IDR', () => {
    const { poc, repairs, frame } = composition();
    poc.idrAt(0);
    expect(poc.cts(frame({ idr: true, frameNum: 0, pocLsb: 0 }), 0)).toBe(0);
    expect(poc.cts(frame({ idr: false, frameNum: 1, pocLsb: 6 }), 40)).toBe(0);
    // POC 2, no reorder delay stated (2 frames): pts 0 + (1 + 2) * 40 = 120, at DTS 80.
    expect(poc.cts(frame(B(2, 2)), 80)).toBe(40);
    // From now on every frame with CTS 0: POC 12, pts (6 + 2) * 40 = 320 at DTS 120.
    expect(poc.cts(frame({ idr: false, frameNum: 2, pocLsb: 12 }), 120)).toBe(200);
    // A stated CTS is kept.
    expect(poc.cts(frame(B(3, 8), 33), 160)).toBe(33);
    // A new IDR restarts the count from its own DTS: pts 400 + 2 * 40.
    poc.idrAt(400);
    expect(poc.cts(frame({ idr: true, frameNum: 0, pocLsb: 0 }), 400)).toBe(80);
    expect(repairs.map((r) => [r.kind, r.amount])).toEqual([
      [RepairKind.CTS_FROM_POC, 40],
      [RepairKind.CTS_FROM_POC, 200],
      [RepairKind.CTS_FROM_POC, 80],
    ]);
  });

  it('starts at a new configuration whose SPS allows reordering, when its IDR has CTS 0', () => {
    const { sets, poc, frame } = composition({ fps: 25 });
    const sps = sets.current!;
    sets.current = { ...sps, vui: { ...sps.vui!, maxNumReorderFrames: 1 } };
    const idr = frame({ idr: true, frameNum: 0, pocLsb: 0 });
    poc.configurationSent(idr);
    poc.idrAt(0);
    // POC 0, reorder 1: pts (0 + 1) * 40 at DTS 0.
    expect(poc.cts(idr, 0)).toBe(40);
    expect(poc.cts(frame({ idr: false, frameNum: 1, pocLsb: 4 }), 40)).toBe(80);
  });

  it('does not start at a new configuration without reordering, or with an IDR that has CTS', () => {
    const plain = composition({ fps: 25 });
    plain.poc.configurationSent(plain.frame({ idr: true, frameNum: 0, pocLsb: 0 }));
    expect(plain.poc.cts(plain.frame({ idr: false, frameNum: 1, pocLsb: 4 }), 40)).toBe(0);

    const timed = composition({ fps: 25 });
    const sps = timed.sets.current!;
    timed.sets.current = { ...sps, vui: { ...sps.vui!, maxNumReorderFrames: 1 } };
    timed.poc.configurationSent(timed.frame({ idr: true, frameNum: 0, pocLsb: 0 }, 40));
    expect(timed.poc.cts(timed.frame({ idr: false, frameNum: 1, pocLsb: 4 }), 40)).toBe(0);
  });

  it('decides on a transcode for B slices with CTS 0 under pic_order_cnt_type 1', () => {
    const { poc, repairs, decisions, frame } = composition({ picOrderCntType: 1 });
    poc.idrAt(0);
    expect(poc.cts(frame(B(1, 0)), 40)).toBe(0);
    expect(decisions).toEqual([TranscodeReason.BFRAMES_WITHOUT_POC]);
    expect(repairs).toEqual([]);
  });
});
