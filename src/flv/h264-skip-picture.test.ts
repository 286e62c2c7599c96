import { describe, expect, it } from 'vitest';
import { BitReader, nalToRbsp, rbspStopBitPosition } from './bit-reader.js';
import { BitWriter, rbspToNal } from './bit-writer.js';
import { CabacDecoder } from './cabac-decoder.test-support.js';
import { initCabacContext } from './cabac-encoder.js';
import { parsePps, type Pps } from './h264-pps.js';
import {
  buildSkipPicture,
  derivePocType0,
  planSkipPictures,
  skipPictureStateAfter,
  SkipPictureTracker,
  type SkipPicturePlan,
  type SkipPictureState,
} from './h264-skip-picture.js';
import type { SliceHeader } from './h264-slice.js';
import { parseSps, type Sps } from './h264-sps.js';

/** Parameter sets of libx264 encodes at 640x360 (superfast): baseline, and high with weighted P. */
const BASELINE_SPS = Buffer.from('6742c01eda0280bfe5c044000003000400000300f03c58ba80', 'hex');
const BASELINE_PPS = Buffer.from('68ce3c80', 'hex');
const HIGH_SPS = Buffer.from('6764001eacd940a02ff970110000030001000003003c0f162d96', 'hex');
const HIGH_PPS = Buffer.from('68efbcb0', 'hex');

const STATE: SkipPictureState = { prevRefFrameNum: 7, sourceFrameNum: 6, prevRefPoc: 84, maxPoc: 88 };

function planOf(sps: Buffer, pps: Buffer, state: SkipPictureState = STATE): SkipPicturePlan {
  const result = planSkipPictures(sps, pps, state);
  if (!result.ok) throw new Error(`refused: ${result.reason}`);
  return result.plan;
}

interface ReadBack {
  nalRefIdc: number;
  nalType: number;
  sliceType: number;
  frameNum: number;
  pocLsb: number | null;
  /** abs_diff_pic_num_minus1 of the one modification, or null without one. */
  modification: number | null;
  qpDelta: number;
  deblockingIdc: number | null;
  r: BitReader;
  rbsp: Buffer;
}

/** Read a filler slice header back field by field (§7.3.3), checking the fixed ones. */
function readBack(nal: Buffer, sps: Sps, pps: Pps): ReadBack {
  const rbsp = nalToRbsp(nal.subarray(1));
  const r = new BitReader(rbsp);
  expect(r.ue()).toBe(0); // first_mb_in_slice
  const sliceType = r.ue();
  expect(r.ue()).toBe(pps.ppsId);
  const frameNum = r.u(sps.log2MaxFrameNum);
  const pocLsb = sps.picOrderCntType === 0 ? r.u(sps.log2MaxPicOrderCntLsb as number) : null;
  if (sps.picOrderCntType === 0 && pps.bottomFieldPicOrderInFramePresent) expect(r.se()).toBe(0);
  if (pps.redundantPicCntPresent) expect(r.ue()).toBe(0);
  expect(r.flag()).toBe(true); // num_ref_idx_active_override_flag
  expect(r.ue()).toBe(0); // one reference
  let modification: number | null = null;
  if (r.flag()) {
    expect(r.ue()).toBe(0); // subtract
    modification = r.ue();
    expect(r.ue()).toBe(3);
  }
  if (pps.weightedPred) {
    expect(r.ue()).toBe(0);
    if (sps.chromaFormatIdc !== 0) expect(r.ue()).toBe(0);
    expect(r.flag()).toBe(false);
    if (sps.chromaFormatIdc !== 0) expect(r.flag()).toBe(false);
  }
  expect(r.flag()).toBe(false); // adaptive_ref_pic_marking_mode_flag
  if (pps.entropyCodingMode) expect(r.ue()).toBe(0); // cabac_init_idc
  const qpDelta = r.se();
  const deblockingIdc = pps.deblockingFilterControlPresent ? r.ue() : null;
  const header = nal[0] as number;
  return {
    nalRefIdc: header >> 5,
    nalType: header & 0x1f,
    sliceType,
    frameNum,
    pocLsb,
    modification,
    qpDelta,
    deblockingIdc,
    r,
    rbsp,
  };
}

describe('buildSkipPicture, CAVLC (H.264 §7.3.3, §7.3.4)', () => {
  const plan = planOf(BASELINE_SPS, BASELINE_PPS, {
    prevRefFrameNum: 12,
    sourceFrameNum: 12,
    prevRefPoc: 0,
    maxPoc: 0,
  });
  const sps = parseSps(BASELINE_SPS);
  const pps = parsePps(BASELINE_PPS);

  it('writes a reference P slice with one mb_skip_run over the whole picture', () => {
    expect(plan.picSizeInMbs).toBe(40 * 23);
    for (let i = 0; i < 40; i++) {
      const nal = buildSkipPicture(plan, i);
      const h = readBack(nal, sps, pps);
      expect([h.nalType, h.nalRefIdc, h.sliceType]).toEqual([1, 1, 5]);
      expect(h.frameNum).toBe((12 + 1 + i) % 16);
      expect(h.modification).toBeNull();
      expect([h.qpDelta, h.deblockingIdc]).toEqual([0, 1]);
      expect(h.r.ue()).toBe(plan.picSizeInMbs); // mb_skip_run
      // then rbsp_trailing_bits, nothing else: more_rbsp_data() is false.
      expect(rbspStopBitPosition(h.rbsp)).toBe(h.r.bitPosition);
      expect(nal.length).toBeLessThan(8);
    }
  });
});

describe('buildSkipPicture, CABAC (H.264 §7.3.4, §9.3)', () => {
  const plan = planOf(HIGH_SPS, HIGH_PPS);
  const sps = parseSps(HIGH_SPS);
  const pps = parsePps(HIGH_PPS);

  it('codes mb_skip_flag 1 and end_of_slice_flag for every macroblock, ending at the stop bit', () => {
    expect([pps.entropyCodingMode, pps.weightedPred, sps.picOrderCntType]).toEqual([true, true, 0]);
    for (const i of [0, 1, 2, 100]) {
      const h = readBack(buildSkipPicture(plan, i), sps, pps);
      while (!h.r.byteAligned) expect(h.r.u(1)).toBe(1); // cabac_alignment_one_bit
      const dec = new CabacDecoder(h.r);
      const ctx = initCabacContext(23, 33, plan.sliceQpY);
      for (let mb = 0; mb < plan.picSizeInMbs; mb++) {
        expect(dec.decodeDecision(ctx)).toBe(1);
        expect(dec.decodeTerminate()).toBe(mb === plan.picSizeInMbs - 1 ? 1 : 0);
      }
      expect(dec.bitPosition).toBe(rbspStopBitPosition(h.rbsp) + 1);
    }
  });

  it('continues frame_num by 1 and the POC by 2 from the last reference, wrapping both', () => {
    const maxLsb = 2 ** (sps.log2MaxPicOrderCntLsb as number);
    let prevPoc = STATE.prevRefPoc;
    for (let i = 0; i < 300; i++) {
      const h = readBack(buildSkipPicture(plan, i), sps, pps);
      expect(h.frameNum).toBe((STATE.prevRefFrameNum + 1 + i) % 2 ** sps.log2MaxFrameNum);
      const poc = derivePocType0(prevPoc, h.pocLsb as number, maxLsb);
      expect(poc).toBe(STATE.maxPoc + 2 * (i + 1));
      prevPoc = poc;
    }
  });

  it('puts the repeated reference first in the first picture only', () => {
    // frame_num 8 takes the source (frame_num 6) to index 0: PicNum 8 - 2 = 6.
    expect(readBack(buildSkipPicture(plan, 0), sps, pps).modification).toBe(1);
    expect(readBack(buildSkipPicture(plan, 1), sps, pps).modification).toBeNull();
    // Across the frame_num wrap: frame_num 0 after a reference at 15, source at 14.
    const wrapped = planOf(HIGH_SPS, HIGH_PPS, { prevRefFrameNum: 15, sourceFrameNum: 14, prevRefPoc: 84, maxPoc: 88 });
    const h = readBack(buildSkipPicture(wrapped, 0), sps, pps);
    expect([h.frameNum, h.modification]).toEqual([0, 1]);
  });

  it('continues a second run from skipPictureStateAfter', () => {
    const after = skipPictureStateAfter(plan, 10);
    const next = planOf(HIGH_SPS, HIGH_PPS, after);
    expect(buildSkipPicture(next, 0)).toEqual(buildSkipPicture(plan, 10));
    expect(skipPictureStateAfter(plan, 0)).toEqual(STATE);
  });
});

interface SpsSpec {
  profileIdc?: number;
  constraintFlags?: number;
  chromaFormatIdc?: number;
  separateColourPlane?: boolean;
  pocType?: number;
  maxNumRefFrames?: number;
  frameMbsOnly?: boolean;
}

function nalOf(header: number, w: BitWriter): Buffer {
  w.u(1, 1);
  w.alignWith(false);
  return Buffer.concat([Buffer.from([header]), rbspToNal(w.toBuffer())]);
}

/** An SPS with the features under test: 320x192, log2_max_frame_num 4, POC LSBs 6 bits. */
function sps(spec: SpsSpec = {}): Buffer {
  const w = new BitWriter();
  const profile = spec.profileIdc ?? 77;
  w.u(8, profile);
  w.u(8, spec.constraintFlags ?? 0);
  w.u(8, 30);
  w.ue(0);
  if (profile === 100 || profile === 44 || profile === 244) {
    w.ue(spec.chromaFormatIdc ?? 1);
    if ((spec.chromaFormatIdc ?? 1) === 3) w.flag(spec.separateColourPlane ?? false);
    w.ue(0); // bit_depth_luma_minus8
    w.ue(0); // bit_depth_chroma_minus8
    w.flag(false); // qpprime_y_zero_transform_bypass_flag
    w.flag(false); // seq_scaling_matrix_present_flag
  }
  w.ue(0); // log2_max_frame_num_minus4
  const pocType = spec.pocType ?? 0;
  w.ue(pocType);
  if (pocType === 0) w.ue(2);
  if (pocType === 1) {
    w.flag(false);
    w.se(0);
    w.se(0);
    w.ue(1);
    w.se(2);
  }
  w.ue(spec.maxNumRefFrames ?? 1);
  w.flag(false); // gaps_in_frame_num_value_allowed_flag
  w.ue(19);
  w.ue(11);
  w.flag(spec.frameMbsOnly ?? true);
  if (!(spec.frameMbsOnly ?? true)) w.flag(false);
  w.flag(true); // direct_8x8_inference_flag
  w.flag(false); // frame_cropping_flag
  w.flag(false); // vui_parameters_present_flag
  return nalOf(0x67, w);
}

interface PpsSpec {
  spsId?: number;
  cabac?: boolean;
  bottomFieldPoc?: boolean;
  sliceGroups?: number;
  weightedPred?: boolean;
  qp?: number;
  deblockingControl?: boolean;
  redundant?: boolean;
  /** Stop after this many fields past the slice groups (a cut PPS). */
  cutAfterSliceGroups?: boolean;
}

function pps(spec: PpsSpec = {}): Buffer {
  const w = new BitWriter();
  w.ue(0);
  w.ue(spec.spsId ?? 0);
  w.flag(spec.cabac ?? true);
  w.flag(spec.bottomFieldPoc ?? false);
  w.ue((spec.sliceGroups ?? 1) - 1);
  if ((spec.sliceGroups ?? 1) > 1) w.ue(6); // slice_group_map_type (the parser stops before it)
  if (spec.cutAfterSliceGroups) return Buffer.concat([Buffer.from([0x68]), w.toBuffer()]);
  w.ue(2); // num_ref_idx_l0_default_active_minus1: overridden to 1 in the filler
  w.ue(0);
  w.flag(spec.weightedPred ?? false);
  w.u(2, 0);
  w.se((spec.qp ?? 26) - 26);
  w.se(0);
  w.se(0);
  w.flag(spec.deblockingControl ?? true);
  w.flag(false);
  w.flag(spec.redundant ?? false);
  return nalOf(0x68, w);
}

describe('planSkipPictures: the fields parameter sets add, and refusals', () => {
  it('writes delta_pic_order_cnt_bottom, redundant_pic_cnt and no deblocking field when the PPS asks', () => {
    const p = pps({ bottomFieldPoc: true, redundant: true, deblockingControl: false, cabac: false });
    const h = readBack(buildSkipPicture(planOf(sps(), p), 0), parseSps(sps()), parsePps(p));
    expect([h.deblockingIdc, h.pocLsb]).toEqual([null, (STATE.maxPoc + 2) % 64]);
  });

  it('writes a pred_weight_table without chroma for 4:0:0, and uses the PPS slice QP for CABAC', () => {
    const s = sps({ profileIdc: 100, chromaFormatIdc: 0 });
    const p = pps({ weightedPred: true, qp: 40 });
    const plan = planOf(s, p);
    expect(plan.sliceQpY).toBe(40);
    const h = readBack(buildSkipPicture(plan, 3), parseSps(s), parsePps(p));
    while (!h.r.byteAligned) h.r.u(1);
    const dec = new CabacDecoder(h.r);
    const ctx = initCabacContext(23, 33, 40);
    for (let mb = 0; mb < plan.picSizeInMbs; mb++) {
      expect(dec.decodeDecision(ctx)).toBe(1);
      expect(dec.decodeTerminate()).toBe(mb === plan.picSizeInMbs - 1 ? 1 : 0);
    }
  });

  it.each([
    ['field-coding', sps({ frameMbsOnly: false }), pps()],
    ['separate-colour-planes', sps({ profileIdc: 244, chromaFormatIdc: 3, separateColourPlane: true }), pps()],
    ['poc-type-1', sps({ pocType: 1 }), pps()],
    ['intra-profile', sps({ profileIdc: 44 }), pps()],
    ['intra-profile', sps({ profileIdc: 244, constraintFlags: 0x10 }), pps()],
    ['no-reference-frames', sps({ maxNumRefFrames: 0 }), pps()],
    ['slice-groups', sps(), pps({ sliceGroups: 2 })],
    ['pps-incomplete', sps(), pps({ cutAfterSliceGroups: true })],
    ['parameter-sets-mismatch', sps(), pps({ spsId: 3 })],
    ['unreadable-parameter-sets', Buffer.from([0x67, 0x42]), pps()],
  ])('refuses %s', (reason, s, p) => {
    const result = planSkipPictures(s, p, STATE);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toBe(reason);
  });

  it('refuses a state the SPS cannot number from', () => {
    const bad = (state: SkipPictureState): string | null => {
      const result = planSkipPictures(sps(), pps(), state);
      return result.ok ? null : result.reason;
    };
    expect(bad({ ...STATE, prevRefFrameNum: 16 })).toBe('state-out-of-range');
    expect(bad({ ...STATE, sourceFrameNum: -1 })).toBe('state-out-of-range');
    // 64 POC LSBs: a first filler POC more than 32 past the last reference reads as one before it.
    expect(bad({ ...STATE, prevRefPoc: 10, maxPoc: 41 })).toBe('poc-out-of-reach');
    expect(bad({ ...STATE, prevRefPoc: 10, maxPoc: 40 })).toBeNull();
    expect(bad(STATE)).toBeNull();
  });
});

describe('SkipPictureTracker', () => {
  const s = parseSps(sps({ maxNumRefFrames: 2 }));
  const header = (nalType: number, nalRefIdc: number, frameNum: number, lsb: number): SliceHeader => ({
    nalType,
    nalRefIdc,
    firstMbInSlice: 0,
    sliceType: 0,
    sliceKind: 'P',
    ppsId: 0,
    colourPlaneId: null,
    frameNum,
    fieldPic: false,
    bottomField: false,
    idrPicId: nalType === 5 ? 0 : null,
    picOrderCntLsb: lsb,
  });

  it('knows nothing before an IDR', () => {
    const t = new SkipPictureTracker();
    t.picture(header(1, 2, 3, 6), s);
    expect(t.state()).toBeNull();
  });

  it('repeats the reference shown last, which a B-pyramid decodes before its B reference', () => {
    const t = new SkipPictureTracker();
    // Decode order I0 P8 B4(ref) b2 b6, POC LSBs over 64 wrapping on the way.
    t.picture(header(5, 3, 0, 0), s);
    t.picture(header(1, 2, 1, 16), s);
    t.picture(header(1, 1, 2, 8), s);
    t.picture(header(1, 0, 3, 4), s);
    t.picture(header(1, 0, 3, 12), s);
    expect(t.state()).toEqual({ prevRefFrameNum: 2, sourceFrameNum: 1, prevRefPoc: 8, maxPoc: 16 });
    // Only the last max_num_ref_frames references count: after two more, frame_num 1 is gone.
    t.picture(header(1, 2, 3, 32), s);
    t.picture(header(1, 1, 4, 24), s);
    expect(t.state()).toEqual({ prevRefFrameNum: 4, sourceFrameNum: 3, prevRefPoc: 24, maxPoc: 32 });
    t.picture(header(1, 2, 5, 48), s);
    t.picture(header(1, 1, 6, 40), s);
    t.picture(header(1, 2, 7, 0), s); // POC 64: the LSBs wrapped
    expect(t.state()).toEqual({ prevRefFrameNum: 7, sourceFrameNum: 7, prevRefPoc: 64, maxPoc: 64 });
  });
});
