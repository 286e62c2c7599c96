/**
 * The output contract (docs/output-contract.md, limits from src/media/output-contract.ts),
 * judged from an output file: every rule that the file alone can answer. The FLV is read
 * with our reader, but tag and NAL headers are parsed here, not with the fixer's own parser,
 * so the judge does not share the code it judges. ffprobe's keyframes, decoding and HLS
 * packaging are judged with every FFmpeg in judges.ts.
 *
 * Not judged here: lip sync (needs the input: lip-sync.ts), live pace and complete (need
 * arrival times), A/V drift (a 6 s fixture is too short to tell 0.5 % from frame rounding).
 */
import { readFileSync } from 'node:fs';
import { expect as globalExpect, type ExpectStatic } from 'vitest';
import { inspectFile } from '../../src/inspect/inspect-source.js';
import { parseAvcConfig } from '../../src/flv/avc-config.js';
import { readFlv, type FlvTag } from '../../src/flv/flv-reader.js';
import { ParameterSets } from '../../src/flv/h264-slice.js';
import { PocCounter } from '../../src/flv/h264-poc.js';
import {
  AAC_TAG_BYTE,
  CADENCE_NEIGHBOURS,
  CADENCE_P95_MS,
  ContractRule,
  MAX_AV_SKEW_MS,
  MAX_DTS_STEP_MS,
  MAX_HLS_SEGMENT_S,
  MAX_KEYFRAME_INTERVAL_MS,
  MAX_START_MS,
  MIN_KEYFRAME_INTERVAL_MS,
  MIN_TRACK_FRAMES,
} from '../../src/media/output-contract.js';
import { JUDGES, decodeWith, packageWith } from './judges.js';
import { probePackets, type ProbedPacket } from './media.js';

const NAL_SLICE = 1;
const NAL_IDR = 5;
const NAL_SPS = 7;
const NAL_PPS = 8;
/** Examples kept per broken rule: enough to see the pattern, not a wall of text. */
const EXAMPLES = 3;

/** Broken rules, each with a count and its first examples. */
class Breaches {
  private readonly byRule = new Map<string, { count: number; examples: string[] }>();

  add(rule: string, detail: string): void {
    const entry = this.byRule.get(rule) ?? { count: 0, examples: [] };
    entry.count++;
    if (entry.examples.length < EXAMPLES) entry.examples.push(detail);
    this.byRule.set(rule, entry);
  }

  list(): string[] {
    return [...this.byRule].map(
      ([rule, e]) => `${rule}: ${e.count > 1 ? `${e.count}x, e.g. ` : ''}${e.examples.join('; ')}`,
    );
  }
}

interface VideoFrame {
  dts: number;
  pts: number;
  idrPeriod: number;
  poc: number | null;
}

/** What the file walk found, per track, in file order. */
interface Walk {
  video: VideoFrame[];
  audioDts: number[];
  /** Both tracks' DTS in file order (A/V skew is judged in arrival order). */
  order: Array<{ track: 'a' | 'v'; dts: number }>;
  hasB: boolean;
}

export interface ContractFigures {
  videoFrames: number;
  audioFrames: number;
  firstVideoDts: number | null;
  firstAudioDts: number | null;
  worstVideoStepMs: number;
  worstAudioStepMs: number;
  maxSkewMs: number;
  cadenceP95Ms: number;
  /** Per judge: consecutive keyframe intervals as its ffprobe flags them. */
  keyframes: Record<string, { count: number; minMs: number | null; maxMs: number | null; openLastMs: number | null }>;
  decodeErrorLines: Record<string, number>;
  packageErrorLines: Record<string, number>;
  maxSegmentS: Record<string, number>;
}

export interface ContractReport {
  file: string;
  /** "rule: detail", one per broken rule; empty when the file meets the contract. */
  breaches: string[];
  figures: ContractFigures;
  /** ffprobe's packets by the first judge (for tests that compare packets). */
  packets: ProbedPacket[];
}

/** 4-byte AVCC NAL units of a video payload; null when they do not tile it exactly. */
function tileNals(data: Buffer, lengthSize: number): Buffer[] | null {
  const nals: Buffer[] = [];
  let pos = 0;
  while (pos < data.length) {
    if (pos + lengthSize > data.length) return null;
    const len = data.readUIntBE(pos, lengthSize);
    pos += lengthSize;
    if (len === 0 || pos + len > data.length) return null;
    nals.push(data.subarray(pos, pos + len));
    pos += len;
  }
  return nals;
}

const hasStartCode = (nal: Buffer): boolean => nal.indexOf(Buffer.from([0, 0, 1])) >= 0;

interface VideoState {
  ps: ParameterSets;
  poc: PocCounter;
  lengthSize: number;
  header: Buffer | null;
  spsHex: string | null;
  /** A new AVC header was sent: the next frame must be an IDR. */
  headerPending: boolean;
  idrPeriod: number;
}

function walkVideoHeader(tag: FlvTag, s: VideoState, b: Breaches): void {
  const record = tag.data.subarray(5);
  try {
    const config = parseAvcConfig(record);
    const spsHex = config.sps.map((n) => n.toString('hex')).join(',');
    if (s.header !== null) {
      // Any AVC header after the first is a new one: only for a real SPS change, right before an IDR.
      if (spsHex === s.spsHex)
        b.add(ContractRule.STABLE_HEADERS, `AVC sequence header again at ${tag.timestampMs} ms with the same SPS`);
      s.headerPending = true;
    }
    s.header = Buffer.from(record);
    s.spsHex = spsHex;
    s.lengthSize = config.nalLengthSize;
    for (const n of config.sps) s.ps.addSps(n);
    for (const n of config.pps) s.ps.addPps(n);
  } catch (err) {
    b.add(ContractRule.PARSE, `AVC sequence header at ${tag.timestampMs} ms: ${(err as Error).message}`);
  }
}

/** One coded video frame: framing, key flags, first frame, composition; adds it to `w`. */
function walkVideoFrame(tag: FlvTag, s: VideoState, w: Walk, b: Breaches): void {
  const at = `${tag.timestampMs} ms`;
  const keyFlag = tag.data[0]! >> 4 === 1;
  const cts = tag.data.readIntBE(2, 3);
  if (s.header === null) b.add(ContractRule.HEADERS_FIRST, `video frame at ${at} before any AVC sequence header`);
  if (cts < 0) b.add(ContractRule.COMPOSITION, `negative composition time ${cts} at ${at}`);
  const nals = tileNals(tag.data.subarray(5), 4);
  if (nals === null)
    b.add(ContractRule.AVCC_FRAMING, `payload at ${at} does not tile into 4-byte length-prefixed NAL units`);
  const list = nals ?? [];
  if (list.some(hasStartCode)) b.add(ContractRule.AVCC_FRAMING, `start code inside a NAL unit at ${at}`);
  const idr = list.some((n) => (n[0]! & 0x1f) === NAL_IDR);
  if (keyFlag && !idr) b.add(ContractRule.KEY_FLAGS, `key flag without an IDR at ${at}`);
  if (w.video.length === 0 && !(keyFlag && idr))
    b.add(ContractRule.FIRST_FRAME, `first video frame (${at}) key=${keyFlag} idr=${idr}`);
  if (s.headerPending && !idr)
    b.add(ContractRule.STABLE_HEADERS, `new AVC sequence header not right before an IDR (frame at ${at})`);
  s.headerPending = false;
  if (idr) s.idrPeriod++;
  let poc: number | null = null;
  try {
    for (const n of list) {
      const type = n[0]! & 0x1f;
      if (type === NAL_SPS) s.ps.addSps(n);
      if (type === NAL_PPS) s.ps.addPps(n);
    }
    const slice = list.find((n) => [NAL_SLICE, NAL_IDR].includes(n[0]! & 0x1f));
    if (slice !== undefined) {
      const header = s.ps.sliceHeader(slice);
      const sps = s.ps.spsForPps(header.ppsId)!;
      if (header.sliceKind === 'B') w.hasB = true;
      if (sps.picOrderCntType === 0) poc = s.poc.next(header, sps);
    }
  } catch (err) {
    b.add(ContractRule.COMPOSITION, `slice header at ${at} unreadable: ${(err as Error).message}`);
  }
  w.video.push({ dts: tag.timestampMs, pts: tag.timestampMs + cts, idrPeriod: s.idrPeriod, poc });
  w.order.push({ track: 'v', dts: tag.timestampMs });
}

function walkAudio(tag: FlvTag, asc: { value: Buffer | null }, w: Walk, b: Breaches): void {
  const at = `${tag.timestampMs} ms`;
  const first = tag.data[0]!;
  if (first >> 4 !== 10) {
    b.add(ContractRule.CODECS, `audio SoundFormat ${first >> 4} at ${at}`);
    return;
  }
  if (first !== AAC_TAG_BYTE) b.add(ContractRule.AAC_TAG_BYTE, `0x${first.toString(16)} at ${at}`);
  const payload = tag.data.subarray(2);
  if (tag.data[1] === 0) {
    if (asc.value !== null && !asc.value.equals(payload))
      b.add(ContractRule.STABLE_HEADERS, `AAC sequence header changed at ${at}`);
    asc.value ??= Buffer.from(payload);
    return;
  }
  if (asc.value === null) b.add(ContractRule.HEADERS_FIRST, `AAC frame at ${at} before any AAC sequence header`);
  if (payload[0] === 0xff && ((payload[1] ?? 0) & 0xf6) === 0xf0)
    b.add(ContractRule.RAW_AAC, `ADTS header in the AAC frame at ${at}`);
  w.audioDts.push(tag.timestampMs);
  w.order.push({ track: 'a', dts: tag.timestampMs });
}

/** parse, codecs, headers first, stable headers, framing, AAC tag byte, first frame, key flags, composition (CTS). */
function walkFile(buf: Buffer, b: Breaches): Walk {
  const w: Walk = { video: [], audioDts: [], order: [], hasB: false };
  let tags: FlvTag[];
  try {
    const flv = readFlv(buf);
    tags = flv.tags;
    if (flv.header.previousTagSize0 !== 0) b.add(ContractRule.PARSE, `PreviousTagSize0 ${flv.header.previousTagSize0}`);
  } catch (err) {
    b.add(ContractRule.PARSE, (err as Error).message);
    return w;
  }
  const s: VideoState = {
    ps: new ParameterSets(),
    poc: new PocCounter(),
    lengthSize: 4,
    header: null,
    spsHex: null,
    headerPending: false,
    idrPeriod: 0,
  };
  const asc = { value: null as Buffer | null };
  for (const tag of tags) {
    if (tag.previousTagSize !== tag.data.length + 11)
      b.add(ContractRule.PARSE, `PreviousTagSize ${tag.previousTagSize} after the tag at byte ${tag.offset}`);
    if (tag.tagType === 8 && tag.data.length >= 2) walkAudio(tag, asc, w, b);
    if (tag.tagType !== 9) continue;
    const first = tag.data[0] ?? 0;
    if ((first & 0x80) !== 0 || (first & 0x0f) !== 7) {
      b.add(ContractRule.CODECS, `video tag at ${tag.timestampMs} ms is not AVC (first byte 0x${first.toString(16)})`);
      continue;
    }
    if (first >> 4 === 5 || tag.data.length < 5) continue; // command frames carry no picture
    if (tag.data[1] === 0) walkVideoHeader(tag, s, b);
    else if (tag.data[1] === 1) walkVideoFrame(tag, s, w, b);
  }
  return w;
}

function percentile95(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.max(0, Math.ceil(sorted.length * 0.95) - 1)]!;
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** cadence: p95 of |interval - median of the CADENCE_NEIGHBOURS intervals centred on it|. */
export function cadenceP95(dts: number[]): number {
  const intervals = dts.slice(1).map((d, i) => d - dts[i]!);
  const devs = intervals.map((d, i) => {
    const lo = Math.max(0, Math.min(i - (CADENCE_NEIGHBOURS >> 1), intervals.length - CADENCE_NEIGHBOURS));
    return Math.abs(d - median(intervals.slice(lo, lo + CADENCE_NEIGHBOURS)));
  });
  return percentile95(devs);
}

/** monotonic (strict on both tracks), steps and start for one track; returns the worst step. */
function judgeTrack(name: string, dts: number[], b: Breaches): number {
  let worst = 0;
  for (let i = 1; i < dts.length; i++) {
    const step = dts[i]! - dts[i - 1]!;
    worst = Math.max(worst, step);
    if (step <= 0) b.add(ContractRule.MONOTONIC, `${name} DTS ${dts[i]} after ${dts[i - 1]} (frame ${i})`);
    if (step > MAX_DTS_STEP_MS) b.add(ContractRule.STEPS, `${name} step of ${step} ms at ${dts[i]}`);
  }
  if (dts.length > 0 && dts[0]! > MAX_START_MS) b.add(ContractRule.START, `${name} starts at ${dts[0]} ms`);
  if (dts.length < MIN_TRACK_FRAMES) b.add(ContractRule.MEDIA, `${dts.length} ${name} frames`);
  return worst;
}

/** A/V skew in file order; returns the largest. */
function judgeSkew(order: Walk['order'], b: Breaches): number {
  let [lastA, lastV, worst] = [null as number | null, null as number | null, 0];
  for (const e of order) {
    if (e.track === 'a') lastA = e.dts;
    else lastV = e.dts;
    if (lastA === null || lastV === null) continue;
    const skew = Math.abs(lastA - lastV);
    worst = Math.max(worst, skew);
    if (skew > MAX_AV_SKEW_MS) b.add(ContractRule.AV_SKEW, `audio ${lastA} vs video ${lastV} ms in file order`);
  }
  return worst;
}

/** composition: within each IDR period, PTS order is POC order (only where B slices exist). */
function judgeComposition(w: Walk, b: Breaches): void {
  if (!w.hasB) return;
  const periods = new Map<number, VideoFrame[]>();
  for (const f of w.video) periods.set(f.idrPeriod, [...(periods.get(f.idrPeriod) ?? []), f]);
  for (const frames of periods.values()) {
    if (frames.some((f) => f.poc === null)) continue; // POC type 1/2: nothing to order by
    const byPts = [...frames].sort((x, y) => x.pts - y.pts);
    for (let i = 1; i < byPts.length; i++) {
      if (byPts[i]!.pts === byPts[i - 1]!.pts || byPts[i]!.poc! <= byPts[i - 1]!.poc!) {
        b.add(
          ContractRule.COMPOSITION,
          `PTS order != POC order at PTS ${byPts[i]!.pts} (POC ${byPts[i]!.poc} after ${byPts[i - 1]!.poc})`,
        );
        break;
      }
    }
  }
}

/** keyframe interval by one judge's ffprobe: consecutive keyframes in range, open last GOP bounded. */
function judgeKeyframes(
  packets: ProbedPacket[],
  label: string,
  minKeyframes: number,
  b: Breaches,
): ContractFigures['keyframes'][string] {
  const video = packets.filter((p) => p.codecType === 'video');
  const keys = video.filter((p) => p.keyframe).map((p) => p.dts);
  const gaps = keys.slice(1).map((k, i) => k - keys[i]!);
  const rule = `${ContractRule.KEYFRAME_INTERVAL} [${label}]`;
  for (let i = 0; i < gaps.length; i++) {
    const gap = gaps[i]!;
    if (gap < MIN_KEYFRAME_INTERVAL_MS || gap > MAX_KEYFRAME_INTERVAL_MS)
      b.add(rule, `${gap} ms ending at ${keys[i + 1]}`);
  }
  const openLastMs = keys.length > 0 && video.length > 0 ? video.at(-1)!.dts - keys.at(-1)! : null;
  if (openLastMs !== null && openLastMs > MAX_KEYFRAME_INTERVAL_MS) b.add(rule, `open last GOP of ${openLastMs} ms`);
  if (keys.length < minKeyframes) b.add(rule, `${keys.length} keyframes, expected at least ${minKeyframes}`);
  return {
    count: keys.length,
    minMs: gaps.length ? Math.min(...gaps) : null,
    maxMs: gaps.length ? Math.max(...gaps) : null,
    openLastMs,
  };
}

/** Every contract rule the file can answer; nothing asserted, so a test sees all breaches at once. */
export async function checkContract(file: string, opts: { minKeyframes?: number } = {}): Promise<ContractReport> {
  const b = new Breaches();
  const w = walkFile(readFileSync(file), b);
  const videoDts = w.video.map((f) => f.dts);
  const figures: ContractFigures = {
    videoFrames: w.video.length,
    audioFrames: w.audioDts.length,
    firstVideoDts: videoDts[0] ?? null,
    firstAudioDts: w.audioDts[0] ?? null,
    worstVideoStepMs: judgeTrack('video', videoDts, b),
    worstAudioStepMs: judgeTrack('audio', w.audioDts, b),
    maxSkewMs: judgeSkew(w.order, b),
    cadenceP95Ms: cadenceP95(videoDts),
    keyframes: {},
    decodeErrorLines: {},
    packageErrorLines: {},
    maxSegmentS: {},
  };
  if (figures.cadenceP95Ms > CADENCE_P95_MS) b.add(ContractRule.CADENCE, `p95 ${figures.cadenceP95Ms} ms`);
  judgeComposition(w, b);
  let packets: ProbedPacket[] = [];
  for (const judge of JUDGES) {
    const [probed, decoded, packaged] = await Promise.all([
      probePackets(file, judge.ffprobe).catch((err: Error) => err),
      decodeWith(judge, file),
      packageWith(judge, file),
    ]);
    if (probed instanceof Error)
      b.add(`${ContractRule.PARSE} [${judge.label}]`, `ffprobe: ${probed.message.split('\n')[0]}`);
    else {
      if (packets.length === 0) packets = probed;
      figures.keyframes[judge.label] = judgeKeyframes(probed, judge.label, opts.minKeyframes ?? 2, b);
    }
    figures.decodeErrorLines[judge.label] = decoded.errorLines.length;
    for (const line of decoded.errorLines) b.add(`${ContractRule.DECODES} [${judge.label}]`, line);
    if (decoded.code !== 0) b.add(`${ContractRule.DECODES} [${judge.label}]`, `exit code ${decoded.code}`);
    figures.packageErrorLines[judge.label] = packaged.errorLines.length;
    figures.maxSegmentS[judge.label] = Math.max(0, ...packaged.segmentsS);
    for (const line of packaged.errorLines) b.add(`${ContractRule.PACKAGES} [${judge.label}]`, line);
    if (packaged.code !== 0) b.add(`${ContractRule.PACKAGES} [${judge.label}]`, `exit code ${packaged.code}`);
    if (packaged.segmentsS.length === 0)
      b.add(`${ContractRule.PACKAGES} [${judge.label}]`, 'no segment in the playlist');
    for (const s of packaged.segmentsS.filter((x) => x > MAX_HLS_SEGMENT_S))
      b.add(`${ContractRule.PACKAGES} [${judge.label}]`, `segment of ${s} s`);
  }
  return { file, breaches: b.list(), figures, packets };
}

/** One line of figures for a closing report. */
export function summaryLine(name: string, r: ContractReport): string {
  const f = r.figures;
  const perJudge = Object.keys(f.decodeErrorLines)
    .map((j) => {
      const k = f.keyframes[j];
      return `[${j}] keys ${k?.count ?? '?'} (${k?.minMs ?? '-'}..${k?.maxMs ?? '-'} ms, open ${k?.openLastMs ?? '-'}) decode-errors ${f.decodeErrorLines[j]} hls-errors ${f.packageErrorLines[j]} max-seg ${f.maxSegmentS[j]?.toFixed(2)} s`;
    })
    .join(' ');
  return `contract ${name}: video ${f.videoFrames} audio ${f.audioFrames} frames, start v${f.firstVideoDts}/a${f.firstAudioDts}, worst step v${f.worstVideoStepMs}/a${f.worstAudioStepMs} ms, skew ${f.maxSkewMs} ms, cadence p95 ${f.cadenceP95Ms} ms ${perJudge}; breaches ${r.breaches.length}`;
}

/**
 * `rinse inspect` accepts the file and it meets every contract rule judged from the file,
 * with every judge. Prints the summary line; returns the report.
 */
export async function expectCloudflareClean(
  file: string,
  opts: {
    minKeyframes?: number;
    name?: string;
    /** the test context's, in concurrent tests */ expect?: ExpectStatic;
  } = {},
): Promise<ContractReport> {
  const expect = opts.expect ?? globalExpect;
  const [inspected, report] = await Promise.all([inspectFile(file), checkContract(file, opts)]);
  console.log(summaryLine(opts.name ?? file, report));
  // Soft: a test goes on to its other checks, so one run shows every rule a file breaks.
  expect.soft(report.breaches, `contract breaches of ${file}`).toEqual([]);
  // An output is clean by rinse's own judge too: no contract rule broken, not only no Cloudflare MUST.
  expect
    .soft(
      inspected.findings.map((f) => `${f.rule}: ${f.detail}`),
      'rules rinse inspect finds broken',
    )
    .toEqual([]);
  expect.soft(inspected.verdict.clean, 'rinse inspect calls it clean').toBe(true);
  return report;
}

/**
 * The ffprobe-packet part of the contract, for outputs judged by packets alone: strictly
 * increasing DTS on both tracks, steps, keyframe interval (open last GOP included), A/V
 * skew in file order. Returns the keyframe DTS list. `label` names the judge.
 */
export function expectCleanTimeline(
  packets: ProbedPacket[],
  minKeyframes = 2,
  label = 'ffprobe',
  expect: ExpectStatic = globalExpect,
): number[] {
  const b = new Breaches();
  const video = packets.filter((p) => p.codecType === 'video');
  const audio = packets.filter((p) => p.codecType === 'audio');
  judgeTrack(
    'video',
    video.map((p) => p.dts),
    b,
  );
  judgeTrack(
    'audio',
    audio.map((p) => p.dts),
    b,
  );
  judgeSkew(
    packets.map((p) => ({ track: p.codecType === 'audio' ? 'a' : 'v', dts: p.dts })),
    b,
  );
  judgeKeyframes(packets, label, minKeyframes, b);
  expect(b.list(), `contract breaches by ${label}'s packets`).toEqual([]);
  return video.filter((p) => p.keyframe).map((p) => p.dts);
}
