/**
 * Video ingest on synthetic H.264 built in code: parameter sets kept as copies (and kept
 * when only one kind arrives), and coded tags taken apart into pending frames with the
 * repairs they need, the tag body kept when nothing in it changed.
 */
import { describe, expect, it } from 'vitest';
import { joinAvcc, nalType, NalType } from '../flv/nal-units.js';
import { RepairKind, type RepairRecord } from './repairs.js';
import { buildPps, buildSlice, buildSps } from './synthetic-h264.test-support.js';
import { ReceivedParameterSets, VideoIngest } from './video-ingest.js';

const AUD = Buffer.from([0x09, 0xf0]);
const FILLER = Buffer.from([0x0c, 0xff, 0xff, 0x80]);
const idr = buildSlice({ idr: true, frameNum: 0 });
const p1 = buildSlice({ idr: false, frameNum: 1, pocLsb: 2 });

function annexB(nals: Buffer[]): Buffer {
  return Buffer.concat(nals.flatMap((n) => [Buffer.from([0, 0, 0, 1]), n]));
}

/** Ingest `data` as a coded tag at 1000 ms (frame type 1 when `key`, CTS 0). */
function ingest(data: Buffer, key = true, lengthSize: 1 | 2 | 4 = 4) {
  const repairs: RepairRecord[] = [];
  const reader = new VideoIngest((r) => repairs.push(r));
  reader.nalLengthSize = lengthSize;
  const tag = { timestampMs: 1000, data: Buffer.concat([Buffer.from([0x17, 1, 0, 0, 0]), data]) };
  const frame = reader.frame(tag, { data, compositionTimeMs: 0, frameType: key ? 1 : 2 });
  return { frame, sps: [...reader.sps], pps: [...reader.pps], repairs, tag, reader };
}

describe('ReceivedParameterSets', () => {
  it('is complete with an SPS and a PPS, and parses the SPS', () => {
    const sets = new ReceivedParameterSets();
    expect(sets.complete).toBe(false);
    sets.set([buildSps({ widthMbs: 40, heightMbs: 30 })], []);
    expect(sets.complete).toBe(false);
    expect(sets.current?.width).toBe(640);
    sets.set([], [buildPps()]);
    expect(sets.complete).toBe(true);
    expect(sets.parsed.ppsById(0)).toBeDefined();
  });

  it('keeps copies, not views of the tag they came in', () => {
    const sets = new ReceivedParameterSets();
    const sps = buildSps();
    const pps = buildPps();
    const original = Buffer.from(sps);
    sets.set([sps], [buildPps()]);
    sps.fill(0);
    expect(sets.sps[0]!.equals(original)).toBe(true);
    // One kind alone too (an in-band SPS or PPS).
    sets.set([], [pps]);
    pps.fill(0);
    expect(sets.pps[0]!.equals(buildPps())).toBe(true);
  });

  it('keeps the known PPS when only an SPS comes, and the parsed SPS when a new one does not parse', () => {
    const sets = new ReceivedParameterSets();
    const pps = buildPps();
    sets.set([buildSps({ widthMbs: 20 })], [pps]);
    sets.set([buildSps({ widthMbs: 30 })], []);
    expect(sets.pps[0]!.equals(pps)).toBe(true);
    expect(sets.current?.width).toBe(480);
    sets.set([Buffer.from([0x67])], []);
    expect(sets.sps).toHaveLength(1);
    expect(sets.current?.width).toBe(480);
  });
});

describe('VideoIngest', () => {
  it('passes a clean 4-byte AVCC frame: same body, no repairs', () => {
    const { frame, sps, repairs, tag } = ingest(joinAvcc([p1]), false);
    expect(repairs).toEqual([]);
    expect(frame).toEqual({ rawTs: 1000, nals: [p1], cts: 0, flagKey: false, passthrough: tag.data });
    expect(frame?.passthrough).toBe(tag.data);
    expect(sps).toEqual([]);
  });

  it('drops AUD and filler and moves SPS/PPS out, in NAL order, recording each', () => {
    const inSps = buildSps();
    const inPps = buildPps();
    const { frame, sps, pps, repairs } = ingest(joinAvcc([AUD, inSps, inPps, idr, FILLER]));
    expect(repairs.map((r) => [r.kind, r.amount])).toEqual([
      [RepairKind.NAL_DROPPED, AUD.length],
      [RepairKind.NAL_DROPPED, FILLER.length],
      [RepairKind.PARAMETER_SETS_MOVED, 2],
    ]);
    expect(sps).toEqual([inSps]);
    expect(pps).toEqual([inPps]);
    expect(frame?.nals).toEqual([idr]);
    expect(frame?.flagKey).toBe(true);
    expect(frame?.passthrough).toBeNull();
  });

  it('does not pass a body it dropped an AUD from', () => {
    const { frame, repairs } = ingest(joinAvcc([AUD, p1]), false);
    expect(repairs.map((r) => r.kind)).toEqual([RepairKind.NAL_DROPPED]);
    expect(frame?.nals).toEqual([p1]);
    expect(frame?.passthrough).toBeNull();
  });

  it('reframes Annex B (counted per NAL unit) and does not pass the body', () => {
    const { frame, repairs } = ingest(annexB([AUD, idr]));
    expect(repairs.map((r) => r.kind)).toEqual([RepairKind.NAL_REFRAMED, RepairKind.NAL_DROPPED]);
    expect(repairs[0]!.amount).toBe(2);
    expect(frame?.nals.map(nalType)).toEqual([NalType.IDR]);
    expect(frame?.passthrough).toBeNull();
  });

  it('rewrites a frame with 2-byte lengths without recording a repair', () => {
    const { frame, repairs } = ingest(joinAvcc([p1], 2), false, 2);
    expect(repairs).toEqual([]);
    expect(frame?.nals).toEqual([p1]);
    expect(frame?.passthrough).toBeNull();
  });

  it('gives no frame for a tag of parameter sets only, nor for a payload it cannot split', () => {
    const inSps = buildSps();
    const { frame, sps, reader } = ingest(joinAvcc([inSps, buildPps()]));
    expect(frame).toBeNull();
    expect(sps).toEqual([inSps]);
    // The next tag starts with no in-band sets, even when it cannot be split.
    expect(
      reader.frame(
        { timestampMs: 0, data: Buffer.alloc(0) },
        { data: Buffer.from([0, 0, 0, 9, 0x65]), compositionTimeMs: 0, frameType: 2 },
      ),
    ).toBeNull();
    expect(reader.sps).toEqual([]);
    expect(reader.pps).toEqual([]);
  });
});
