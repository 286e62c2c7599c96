/**
 * The sequence-header policy on synthetic parameter sets: a header only when the decoder
 * configuration is new or changed, the received avcC reused while it says the same, and
 * max_num_ref_frames raised (demotion on) from the start, after a demotion, or for an SPS
 * declaring none, only at a kept IDR, repeated in band when raised after the start.
 */
import { describe, expect, it } from 'vitest';
import { buildAvcConfig, parseAvcConfig } from '../flv/avc-config.js';
import { parseVideoTagBody } from '../flv/flv-tag.js';
import { parseSps } from '../flv/h264-sps.js';
import { RepairKind, type RepairRecord } from './repairs.js';
import { SequenceHeaders, type SequenceHeaderOut } from './sequence-headers.js';
import { buildPps, buildSps, type SpsSpec } from './synthetic-h264.test-support.js';
import { ReceivedParameterSets } from './video-ingest.js';

function policy(options: { demoteIdrs?: boolean; seamReady?: boolean; sps?: SpsSpec } = {}) {
  const sets = new ReceivedParameterSets();
  sets.set([buildSps(options.sps)], [buildPps()]);
  const repairs: RepairRecord[] = [];
  const headers = new SequenceHeaders(
    sets,
    { demoteIdrs: options.demoteIdrs ?? true, seamReady: options.seamReady ?? false },
    (r) => repairs.push(r),
  );
  return { sets, headers, repairs };
}

/** The avcC record a sequence header tag carries. */
function avcC(header: SequenceHeaderOut | null): Buffer {
  expect(header).not.toBeNull();
  const body = parseVideoTagBody(header!.data);
  expect(body.packetKind).toBe('sequence-header');
  expect(body.frameType).toBe(1);
  return body.data;
}

const refFrames = (header: SequenceHeaderOut | null): number =>
  parseSps(parseAvcConfig(avcC(header)).sps[0]!).maxNumRefFrames;

describe('SequenceHeaders', () => {
  it('sends the configuration at the first IDR and nothing while it holds', () => {
    const { sets, headers, repairs } = policy({ demoteIdrs: false });
    const first = headers.atIdr(true, 0);
    expect(avcC(first).equals(buildAvcConfig({ sps: sets.sps, pps: sets.pps }))).toBe(true);
    expect(first!.inband).toEqual([]);
    expect(repairs.map((r) => r.kind)).toEqual([RepairKind.AVC_SEQUENCE_HEADER]);
    expect(headers.atIdr(true, 1000)).toBeNull();
    // The same sets received again (new copies) change nothing either.
    sets.set([buildSps()], [buildPps()]);
    expect(headers.atIdr(true, 2000)).toBeNull();
    expect(repairs).toHaveLength(1);
  });

  it('sends a changed PPS at the next IDR', () => {
    const { sets, headers } = policy({ demoteIdrs: false });
    headers.atIdr(true, 0);
    sets.set([], [buildPps({ cabac: true })]);
    expect(parseAvcConfig(avcC(headers.atIdr(false, 1000))).pps[0]!.equals(buildPps({ cabac: true }))).toBe(true);
  });

  it('reuses the avcC the stream sent when it carries the same sets, with no repair', () => {
    const { sets, headers, repairs } = policy({ demoteIdrs: false });
    const received = Buffer.concat([buildAvcConfig({ sps: sets.sps, pps: sets.pps }), Buffer.from([0xfd, 0xf8])]);
    headers.received(received);
    expect(avcC(headers.atIdr(true, 0)).equals(received)).toBe(true);
    expect(repairs).toEqual([]);
  });

  it('seamReady with demotion: the first header already carries max_num_ref_frames 2', () => {
    const { headers, repairs } = policy({ seamReady: true });
    const first = headers.atIdr(true, 40);
    expect(refFrames(first)).toBe(2);
    expect(first!.inband).toEqual([]);
    expect(repairs.map((r) => [r.kind, r.atMs])).toEqual([
      [RepairKind.SPS_REF_FRAMES, 0],
      [RepairKind.AVC_SEQUENCE_HEADER, 40],
    ]);
  });

  it('without demotion nothing is raised, seamReady or not', () => {
    const { headers } = policy({ demoteIdrs: false, seamReady: true, sps: { maxNumRefFrames: 0 } });
    expect(refFrames(headers.atIdr(true, 0))).toBe(0);
  });

  it('an SPS declaring no reference frames is raised at the first header', () => {
    const { headers } = policy({ sps: { maxNumRefFrames: 0 } });
    expect(refFrames(headers.atIdr(true, 0))).toBe(2);
  });

  it('after a demotion: raised at the next kept IDR only, and repeated in band', () => {
    const { sets, headers, repairs } = policy();
    expect(refFrames(headers.atIdr(true, 0))).toBe(1);
    headers.raiseRefFrames();
    // An IDR that is itself thinned keeps the SPS sent.
    expect(headers.atIdr(false, 1000)).toBeNull();
    const raised = headers.atIdr(true, 2000);
    expect(refFrames(raised)).toBe(2);
    expect(raised!.inband).toHaveLength(2);
    expect(parseSps(raised!.inband[0]!).maxNumRefFrames).toBe(2);
    expect(raised!.inband[1]!.equals(sets.pps[0]!)).toBe(true);
    expect(repairs.map((r) => r.kind)).toEqual([
      RepairKind.AVC_SEQUENCE_HEADER,
      RepairKind.SPS_REF_FRAMES,
      RepairKind.AVC_SEQUENCE_HEADER,
    ]);
    // Raised once: the same SPS later sends nothing more.
    expect(headers.atIdr(true, 4000)).toBeNull();
  });
});
