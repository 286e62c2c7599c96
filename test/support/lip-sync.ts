/**
 * The lip-sync rule, judged by content: output frames are matched to the frames of the
 * input's true timeline (the clean base encode a fixture was cut from) by their bytes, so
 * the judge needs no trust in any timestamp the fixer wrote. Per matched frame, offset =
 * output DTS - true DTS; audio against video is the audio offset minus the offset of the
 * matched video frame nearest in output time (nearest, not interpolated: across a gap both
 * tracks jump, and interpolating into the gap would invent an error).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect as globalExpect, type ExpectStatic } from 'vitest';
import { BASE_ENCODES, ensureBaseEncode } from '../../fixtures/encodes.js';
import { FIXTURE_DIR } from '../../fixtures/generate.js';
import type { FixtureSpec } from '../../fixtures/manifest.js';
import { readFlv } from '../../src/flv/flv-reader.js';
import { splitNalUnits } from '../../src/flv/nal-units.js';
import { LIP_SYNC_TOLERANCE_MS, MIN_TRACK_FRAMES } from '../../src/media/output-contract.js';

export interface TimedTag {
  tagType: number;
  timestampMs: number;
  data: Buffer;
}

/** Bytes of a slice NAL unit skipped in the video key: IDR demotion rewrites slice headers. */
const SLICE_HEADER_SKIP = 16;

/**
 * The input's true tags. A fixture cut from one base: that base. One spliced from several
 * (sps-change) only damages the SPS, not the clock, so its own tags are the truth there.
 */
export async function trueInputTags(spec: FixtureSpec, fixtureFile: string): Promise<TimedTag[]> {
  const only = spec.bases.length === 1 ? spec.bases[0] : undefined;
  const base = only === undefined ? undefined : BASE_ENCODES[only];
  const file =
    base === undefined || 'hevc' in base ? fixtureFile : await ensureBaseEncode(join(FIXTURE_DIR, 'base'), base);
  return readFlv(readFileSync(file)).tags;
}

type Track = 'audio' | 'video';

/** Content key of a frame: audio, the raw AAC bytes; video, the last slice NAL less its header bytes. */
function frameKey(tag: TimedTag, lengthSize: { value: 1 | 2 | 4 }): { track: Track; key: string } | null {
  const d = tag.data;
  if (tag.tagType === 8 && d.length > 2 && d[0]! >> 4 === 10 && d[1] === 1) {
    return { track: 'audio', key: createHash('md5').update(d.subarray(2)).digest('hex') };
  }
  if (tag.tagType !== 9 || d.length < 5 || (d[0]! & 0x0f) !== 7) return null;
  if (d[1] === 0) {
    // The record's lengthSizeMinusOne: the true timeline may not use 4-byte lengths.
    const size = ((d[9] ?? 3) & 3) + 1;
    if (size === 1 || size === 2 || size === 4) lengthSize.value = size;
    return null;
  }
  if (d[1] !== 1) return null;
  let nals: Buffer[];
  try {
    nals = splitNalUnits(d.subarray(5), lengthSize.value).nals;
  } catch {
    return null;
  }
  const slice = nals.filter((n) => n.length > 0 && [1, 5].includes(n[0]! & 0x1f)).at(-1);
  if (slice === undefined || slice.length <= SLICE_HEADER_SKIP) return null;
  return { track: 'video', key: createHash('md5').update(slice.subarray(SLICE_HEADER_SKIP)).digest('hex') };
}

interface Keyed {
  track: Track;
  key: string;
  dts: number;
}

function keyed(tags: TimedTag[]): Keyed[] {
  const lengthSize = { value: 4 as 1 | 2 | 4 };
  const out: Keyed[] = [];
  for (const t of tags) {
    const k = frameKey(t, lengthSize);
    if (k !== null) out.push({ ...k, dts: t.timestampMs });
  }
  return out;
}

/** key -> every DTS it occurs at. */
function keyTimes(frames: Keyed[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const f of frames) out.set(f.key, [...(out.get(f.key) ?? []), f.dts]);
  return out;
}

interface Match {
  outDts: number;
  inDts: number;
  offset: number;
}

export interface LipSyncReport {
  /** total: output frames; found: their content is in the input; matched: found exactly once on both sides. */
  audio: { matched: number; found: number; total: number };
  video: { matched: number; found: number; total: number };
  /** Max over matched audio frames of |audio offset - offset of the nearest matched video frame|. */
  maxLipSyncMs: number;
  /** Output DTS of the audio frame where that maximum is. */
  worstAtMs: number | null;
  /** First found audio DTS - first found video DTS, in the true timeline (earliest occurrence) and in the output. */
  inLeadMs: number | null;
  outLeadMs: number | null;
}

function nearest(sorted: Match[], t: number): Match | undefined {
  let [lo, hi] = [0, sorted.length - 1];
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]!.outDts < t) lo = mid + 1;
    else hi = mid;
  }
  const after = sorted[lo];
  const before = sorted[lo - 1];
  if (before === undefined) return after;
  if (after === undefined) return before;
  return t - before.outDts <= after.outDts - t ? before : after;
}

/** Match `output` to `input` by content and measure how far audio moved against video. */
export function measureLipSync(input: TimedTag[], output: TimedTag[]): LipSyncReport {
  const truth = keyTimes(keyed(input));
  const outFrames = keyed(output);
  const outTimes = keyTimes(outFrames);
  const matches: Record<Track, Match[]> = { audio: [], video: [] };
  const counts: Record<Track, { matched: number; found: number; total: number }> = {
    audio: { matched: 0, found: 0, total: 0 },
    video: { matched: 0, found: 0, total: 0 },
  };
  // The first found frame of each track (start lead): a repeated content counts at its earliest time.
  const first: Partial<Record<Track, { outDts: number; inDts: number }>> = {};
  for (const f of outFrames) {
    counts[f.track].total++;
    const inTimes = truth.get(f.key);
    if (inTimes === undefined) continue;
    counts[f.track].found++;
    first[f.track] ??= { outDts: f.dts, inDts: Math.min(...inTimes) };
    if (inTimes.length !== 1 || outTimes.get(f.key)!.length !== 1) continue; // not unique: no offset
    counts[f.track].matched++;
    matches[f.track].push({ outDts: f.dts, inDts: inTimes[0]!, offset: f.dts - inTimes[0]! });
  }
  const video = [...matches.video].sort((a, b) => a.outDts - b.outDts);
  let [maxLipSyncMs, worstAtMs] = [0, null as number | null];
  for (const a of matches.audio) {
    const v = nearest(video, a.outDts);
    if (v === undefined) continue;
    const diff = Math.abs(a.offset - v.offset);
    if (diff > maxLipSyncMs || worstAtMs === null) [maxLipSyncMs, worstAtMs] = [diff, a.outDts];
  }
  const [fa, fv] = [first.audio, first.video];
  return {
    audio: counts.audio,
    video: counts.video,
    maxLipSyncMs,
    worstAtMs,
    inLeadMs: fa && fv ? fa.inDts - fv.inDts : null,
    outLeadMs: fa && fv ? fa.outDts - fv.outDts : null,
  };
}

export function lipSyncLine(name: string, r: LipSyncReport): string {
  return `lip-sync ${name}: max ${r.maxLipSyncMs} ms at ${r.worstAtMs} ms, audio matched ${r.audio.matched} found ${r.audio.found} of ${r.audio.total}, video matched ${r.video.matched} found ${r.video.found} of ${r.video.total}, start lead (audio - video) in ${r.inLeadMs} out ${r.outLeadMs} ms`;
}

/**
 * lip sync: audio moves against video by at most LIP_SYNC_TOLERANCE_MS anywhere, and a track
 * that starts later still starts later. Nearly every output frame's content must be found in
 * the input (else the keys are broken or the payloads were changed, and the judgement would
 * mean nothing), and enough of them uniquely to measure offsets.
 */
/** `expect`: the test context's, in concurrent tests (expect.soft needs it). */
export function expectLipSync(name: string, r: LipSyncReport, expect: ExpectStatic = globalExpect): void {
  for (const track of ['audio', 'video'] as const) {
    expect
      .soft(r[track].found, `${name}: ${track} frames found in the input by content (of ${r[track].total})`)
      .toBeGreaterThanOrEqual(0.95 * r[track].total);
    expect.soft(r[track].matched, `${name}: ${track} frames matched uniquely`).toBeGreaterThanOrEqual(MIN_TRACK_FRAMES);
  }
  expect
    .soft(r.maxLipSyncMs, `${name}: lip sync, audio against video (worst at output ${r.worstAtMs} ms)`)
    .toBeLessThanOrEqual(LIP_SYNC_TOLERANCE_MS);
  expect.soft(r.inLeadMs !== null && r.outLeadMs !== null, `${name}: both tracks found`).toBe(true);
  const [inLead, outLead] = [r.inLeadMs ?? 0, r.outLeadMs ?? 0];
  if (Math.abs(inLead) > LIP_SYNC_TOLERANCE_MS) {
    expect
      .soft(Math.sign(outLead), `${name}: the late track starts late (lead in ${inLead}, out ${outLead} ms)`)
      .toBe(Math.sign(inLead));
  } else {
    expect
      .soft(Math.abs(outLead), `${name}: tracks start together (lead in ${inLead}, out ${outLead} ms)`)
      .toBeLessThanOrEqual(LIP_SYNC_TOLERANCE_MS);
  }
}

/** Output file's tags, for measureLipSync. */
export function fileTags(file: string): TimedTag[] {
  return readFlv(readFileSync(file)).tags;
}
