/**
 * StreamAnalyzer on synthetic streams built in code (no FFmpeg): a clean stream comes out
 * clean, and each stream that breaks one contract rule comes out with that rule, and only
 * that rule, among the findings, and the pathology behind it among the causes.
 */
import { describe, expect, it } from 'vitest';
import { FLV_TAG_HEADER_BYTES } from '../flv/flv-reader.js';
import { buildAvcVideoTagBody } from '../flv/flv-tag.js';
import {
  aacFrameTag,
  aacHeaderTag,
  avcFrameTag,
  avcHeaderTag,
  buildPps,
  buildSlice,
  buildSps,
  SliceType,
} from '../fixer/synthetic-h264.test-support.js';
import { AAC_FRAME_SAMPLES, ContractRule, MAX_KEYFRAME_INTERVAL_MS } from '../media/output-contract.js';
import { TAG_VIDEO, type MediaTag } from '../media/tag-kinds.js';
import { FindingKind } from './findings.js';
import { StreamAnalyzer, type AnalyzerTag, type InspectReport } from './stream-analyzer.js';

const FPS = 30;
const SAMPLE_RATE = 44100;
const frameTime = (i: number): number => Math.round((i * 1000) / FPS);
const audioTime = (i: number): number => Math.round((i * AAC_FRAME_SAMPLES * 1000) / SAMPLE_RATE);
/** Two frames of B-frame reorder delay. */
const REORDER_MS = frameTime(2);
/** FLV timestamps are 32-bit: a stream that starts late enough wraps. */
const at = (startMs: number, ms: number): number => (startMs + ms) % 2 ** 32;
const SPS = buildSps({ fps: FPS });
const PPS = buildPps();

/** One video frame as the stream sends it. */
interface Frame {
  dts: number;
  cts: number;
  idr: boolean;
  key: boolean;
  slices: Buffer[];
  framing: 'avcc' | 'annexb';
}

interface Spec {
  seconds?: number;
  /** Frames per GOP (an IDR starts each). */
  gopFrames?: number;
  /** I P B P B ... with display order in the POC (and in the CTS unless told otherwise). */
  bFrames?: boolean;
  startMs?: number;
  /** The AVC sequence header; otherwise SPS and PPS go in band with every IDR. */
  videoHeader?: boolean;
  /** The AAC sequence header. */
  audioHeader?: boolean;
  /** Edit (or drop, with null) each video frame. */
  video?: (f: Frame, i: number) => Frame | null;
  /** Edit (or drop, with null) each audio frame tag. */
  audio?: (t: MediaTag, i: number) => MediaTag | null;
  /** Audio is sent this far ahead of video (arrival order). */
  audioLeadMs?: number;
}

/** Display index within its GOP of the picture at decode index j (I P B P B ... P). */
function displayIndex(j: number, gopFrames: number, bFrames: boolean): number {
  if (!bFrames || j === 0 || j === gopFrames - 1) return j;
  return j % 2 === 1 ? j + 1 : j - 1;
}

function videoFrames(spec: Spec): Frame[] {
  const gop = spec.gopFrames ?? 2 * FPS;
  const count = (spec.seconds ?? 6) * FPS;
  const b = spec.bFrames ?? false;
  const frames: Frame[] = [];
  for (let i = 0; i < count; i++) {
    const j = i % gop;
    const display = i - j + displayIndex(j, gop, b);
    const idr = j === 0;
    const isB = b && display < i;
    const slice = buildSlice({
      idr,
      sliceType: idr ? SliceType.I : isB ? SliceType.B : SliceType.P,
      frameNum: j % 16,
      pocLsb: (2 * (display - (i - j))) % 64,
      idrPicId: Math.floor(i / gop) % 2,
      nalRefIdc: isB ? 0 : 3,
    });
    const cts = b ? frameTime(display) + REORDER_MS - frameTime(i) : 0;
    const slices = idr && spec.videoHeader === false ? [SPS, PPS, slice] : [slice];
    frames.push({ dts: frameTime(i), cts, idr, key: idr, slices, framing: 'avcc' });
  }
  return frames;
}

function videoTag(f: Frame, startMs: number): MediaTag {
  if (f.framing === 'avcc') return avcFrameTag(at(startMs, f.dts), f.slices, f.key, f.cts);
  const annexB = Buffer.concat(f.slices.flatMap((n) => [Buffer.from([0, 0, 0, 1]), n]));
  const data = buildAvcVideoTagBody({
    frameType: f.key ? 1 : 2,
    packetType: 1,
    compositionTimeMs: f.cts,
    data: annexB,
  });
  return { tagType: TAG_VIDEO, timestampMs: at(startMs, f.dts), data };
}

/**
 * Headers first, then both tracks in the order of their clean DTS (audio moved ahead by
 * audioLeadMs): the edits change what the tags say, not when they are sent.
 */
function stream(spec: Spec = {}): MediaTag[] {
  const startMs = spec.startMs ?? 0;
  const lead = spec.audioLeadMs ?? 0;
  const video = videoFrames(spec).map((f, i) => {
    const edited = spec.video ? spec.video(f, i) : f;
    return { at: f.dts, t: edited && videoTag(edited, startMs) };
  });
  const audioCount = Math.floor(((spec.seconds ?? 6) * SAMPLE_RATE) / AAC_FRAME_SAMPLES);
  const audio = Array.from({ length: audioCount }, (_, i) => {
    const t = aacFrameTag(at(startMs, audioTime(i)));
    return { at: audioTime(i) - lead, t: spec.audio ? spec.audio(t, i) : t };
  });
  const media = [...video, ...audio]
    .map((m, i) => ({ ...m, i }))
    .sort((a, b) => a.at - b.at || a.i - b.i)
    .flatMap((m) => (m.t ? [m.t] : []));
  const headers = [
    ...(spec.videoHeader === false ? [] : [avcHeaderTag(startMs, SPS, PPS)]),
    ...(spec.audioHeader === false ? [] : [aacHeaderTag(startMs)]),
  ];
  return [...headers, ...media];
}

function analyze(tags: readonly AnalyzerTag[]): InspectReport {
  const a = new StreamAnalyzer('synthetic');
  for (const t of tags) a.push(t);
  return a.finish();
}

/** As a file reader passes them: each tag with the PreviousTagSize that followed it. */
const withTagSizes = (tags: readonly MediaTag[]): AnalyzerTag[] =>
  tags.map((t) => ({ ...t, previousTagSize: t.data.length + FLV_TAG_HEADER_BYTES }));

const causes = (r: InspectReport, rule: ContractRule): string[] =>
  r.findings.find((f) => f.rule === rule)?.causes.map((c) => c.kind) ?? [];

describe('StreamAnalyzer: a clean stream', () => {
  it('breaks no rule, and reports what the stream holds', () => {
    const r = analyze(withTagSizes(stream()));
    expect(r.findings).toEqual([]);
    expect(r.verdict).toMatchObject({ clean: true, accept: true, broken: [] });
    expect(r.tags).toEqual({ audio: 259, video: 181, script: 0, unparsed: 0 });
    expect(r.video).toMatchObject({ codec: 'h264', width: 320, height: 192, fps: FPS, frames: 180, bFrames: false });
    expect(r.audio).toMatchObject({ codec: 'aac', sampleRate: SAMPLE_RATE, channels: 2, frames: 258 });
    expect(r.gop).toMatchObject({ keyframes: 3, minS: 2, maxS: 2, allIntra: false, flagMismatches: 0 });
    expect(r.sequenceHeaders.video).toMatchObject({ count: 1, beforeFirstFrame: true, changes: 0 });
    expect(r.framing).toEqual({ avcc: 180, annexb: 0, mixed: 0, adts: 0 });
    expect(Math.abs(r.avSync.driftPercent ?? 1)).toBeLessThan(0.05);
    // Information, not a broken rule: a tiny synthetic stream is far under 2 Mbit/s.
    expect(r.notes.map((n) => n.kind)).toEqual([FindingKind.LOW_BITRATE]);
  });

  it('with B-frames in display order by CTS and POC, is clean too', () => {
    const r = analyze(stream({ bFrames: true }));
    expect(r.video?.bFrames).toBe(true);
    expect(r.findings).toEqual([]);
  });
});

/** `rule` broken (and `also`, in contract order), with `cause` behind it; `must`: Cloudflare rejects it. */
const BROKEN: Array<{
  name: string;
  spec: Spec;
  rule: ContractRule;
  cause: FindingKind;
  must?: boolean;
  also?: ContractRule[];
}> = [
  {
    name: 'an AAC tag byte other than 0xAF',
    spec: { audio: (t, i) => (i % 10 === 5 ? aacFrameTag(t.timestampMs, 0xae) : t) },
    rule: ContractRule.AAC_TAG_BYTE,
    cause: FindingKind.AAC_TAG_BYTE,
  },
  {
    name: 'a video DTS going backward',
    spec: { video: (f, i) => (i === 40 ? { ...f, dts: f.dts - 100 } : f) },
    rule: ContractRule.MONOTONIC,
    cause: FindingKind.TS_BACKWARDS,
    must: true,
  },
  {
    name: 'a repeated audio DTS',
    spec: { audio: (t, i) => (i === 50 ? aacFrameTag(audioTime(49)) : t) },
    rule: ContractRule.MONOTONIC,
    cause: FindingKind.TS_REPEAT,
    must: true,
  },
  {
    name: 'a keyframe interval over 10 s',
    spec: { seconds: 12, gopFrames: 12 * FPS },
    rule: ContractRule.KEYFRAME_INTERVAL,
    cause: FindingKind.GOP_TOO_LONG,
    must: true,
  },
  {
    name: 'keyframes 1 s apart',
    spec: { gopFrames: FPS },
    rule: ContractRule.KEYFRAME_INTERVAL,
    cause: FindingKind.GOP_TOO_SHORT,
    must: true,
  },
  {
    name: 'every frame an IDR',
    spec: { gopFrames: 1 },
    rule: ContractRule.KEYFRAME_INTERVAL,
    cause: FindingKind.ALL_INTRA,
    must: true,
  },
  {
    name: 'no AVC sequence header (SPS and PPS in band)',
    spec: { videoHeader: false },
    rule: ContractRule.HEADERS_FIRST,
    cause: FindingKind.AVC_SEQUENCE_HEADER_MISSING,
    must: true,
  },
  {
    name: 'a start 6 s in',
    spec: { startMs: 6000 },
    rule: ContractRule.START,
    cause: FindingKind.TS_START_OFFSET,
  },
  {
    name: 'both tracks silent for 3 s',
    spec: {
      video: (f) => (f.dts >= 3000 ? { ...f, dts: f.dts + 3000 } : f),
      audio: (t) => (t.timestampMs >= 3000 ? { ...t, timestampMs: t.timestampMs + 3000 } : t),
    },
    rule: ContractRule.STEPS,
    cause: FindingKind.STALL,
    // Whichever track resumes first is 3 s ahead of the other's last DTS.
    also: [ContractRule.AV_SKEW],
  },
  {
    name: 'audio sent 1.5 s ahead of video',
    spec: { audioLeadMs: 1500 },
    rule: ContractRule.AV_SKEW,
    cause: FindingKind.AV_SKEW,
  },
  {
    name: 'Annex-B video payloads',
    spec: { video: (f) => ({ ...f, framing: 'annexb' }) },
    rule: ContractRule.AVCC_FRAMING,
    cause: FindingKind.ANNEXB_FRAMING,
  },
  {
    name: 'a first frame that is no IDR',
    spec: { video: (f, i) => (i === 0 ? null : f) },
    rule: ContractRule.FIRST_FRAME,
    cause: FindingKind.FIRST_FRAME_NOT_IDR,
  },
  {
    name: 'a negative composition time',
    spec: { video: (f, i) => (i === 20 ? { ...f, cts: -10 } : f) },
    rule: ContractRule.COMPOSITION,
    cause: FindingKind.NEGATIVE_CTS,
  },
  {
    name: 'B-frames with every composition time 0',
    spec: { bFrames: true, video: (f) => ({ ...f, cts: 0 }) },
    rule: ContractRule.COMPOSITION,
    cause: FindingKind.BFRAMES_NO_CTS,
  },
];

describe('StreamAnalyzer: one broken rule at a time', () => {
  for (const c of BROKEN) {
    it(`${c.name}: ${c.rule} (${c.cause})`, () => {
      const r = analyze(stream(c.spec));
      expect(r.verdict.broken).toEqual([c.rule, ...(c.also ?? [])]);
      expect(causes(r, c.rule)).toContain(c.cause);
      expect(r.verdict).toMatchObject({ clean: false, accept: !c.must });
      expect(r.findings[0]).toMatchObject({ cloudflareMust: c.must ?? false, severity: c.must ? 'reject' : 'repair' });
    });
  }

  it('reports the open last GOP by its length in the keyframe-interval detail', () => {
    const r = analyze(stream({ seconds: 12, gopFrames: 12 * FPS }));
    const f = r.findings.find((x) => x.rule === ContractRule.KEYFRAME_INTERVAL);
    expect(f?.causes[0]?.detail).toBe(`keyframes up to ${frameTime(12 * FPS - 1) / 1000} s apart`);
    expect(frameTime(12 * FPS - 1)).toBeGreaterThan(MAX_KEYFRAME_INTERVAL_MS);
  });

  it('counts a wrong PreviousTagSize and a tag that does not parse against the parse rule', () => {
    const tags = withTagSizes(stream());
    tags[10] = { ...(tags[10] as AnalyzerTag), previousTagSize: 7 };
    tags.splice(20, 0, { tagType: TAG_VIDEO, timestampMs: 300, data: Buffer.from([0x17]) });
    const r = analyze(tags);
    expect(r.verdict.broken).toEqual([ContractRule.PARSE]);
    expect(r.findings[0]).toMatchObject({ count: 2, cloudflareMust: true });
    expect(r.tags.unparsed).toBe(1);
    expect(r.verdict.accept).toBe(false);
  });

  it('takes MP3 audio for an unsupported codec', () => {
    const mp3 = (t: MediaTag): MediaTag => ({ ...t, data: Buffer.from([0x2f, 0xff, 0xfb, 0x90, 0x00]) });
    const r = analyze(stream({ audioHeader: false, audio: mp3 }));
    expect(r.verdict.broken).toEqual([ContractRule.CODECS]);
    expect(causes(r, ContractRule.CODECS)).toEqual([FindingKind.UNSUPPORTED_AUDIO_CODEC]);
  });

  it('takes an unchanged AVC sequence header sent again for a stable-headers breach', () => {
    const tags = stream();
    const at = tags.findIndex((t) => t.timestampMs >= 3000);
    tags.splice(at, 0, avcHeaderTag(3000, SPS, PPS));
    const r = analyze(tags);
    expect(r.verdict.broken).toEqual([ContractRule.STABLE_HEADERS]);
    expect(causes(r, ContractRule.STABLE_HEADERS)).toEqual([FindingKind.AVC_SEQUENCE_HEADER_REPEATED]);
  });

  it('notes a live stall by arrival time without breaking a rule', () => {
    const tags = stream().map((t, i) => ({ ...t, arrivalMs: 1_000_000 + i * 10 + (i >= 200 ? 1500 : 0) }));
    const r = analyze(tags);
    expect(r.verdict.clean).toBe(true);
    expect(r.notes.find((n) => n.kind === FindingKind.STALL)).toMatchObject({ count: 1 });
  });

  it('takes a wrap past 2^32 ms for a monotonic breach, not a step, and keeps the tracks in sync across it', () => {
    const r = analyze(stream({ startMs: 2 ** 32 - 3000 }));
    // Starting 2^32 - 3 s in also breaks start.
    expect(r.verdict.broken).toEqual([ContractRule.MONOTONIC, ContractRule.START]);
    expect(causes(r, ContractRule.MONOTONIC)).toEqual([FindingKind.TS_WRAP, FindingKind.TS_WRAP]);
    expect(r.timestamps.video).toMatchObject({ wraps: 1, backwards: 0, restarts: 0 });
    expect(r.avSync.maxSkewMs).toBeLessThan(100);
  });

  it('joins several broken rules, in contract order', () => {
    const r = analyze(stream({ startMs: 6000, gopFrames: 1, audio: (t) => aacFrameTag(t.timestampMs, 0xae) }));
    expect(r.verdict.broken).toEqual([ContractRule.AAC_TAG_BYTE, ContractRule.START, ContractRule.KEYFRAME_INTERVAL]);
  });
});
