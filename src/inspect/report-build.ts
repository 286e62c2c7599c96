/**
 * Turns what the analyzer collected into an {@link InspectReport}: runs the rule checks
 * (one module per rule area), adds the notes that break no rule (notes.ts), and fills the
 * measured facts.
 */
import { levelName, profileName } from '../flv/h264-sps.js';
import { NOT_JUDGED, type RuleBook, type RuleFinding } from './findings.js';
import { addNotes, metadataMismatches, type Metadata } from './notes.js';
import { median, type Collected, type InspectReport } from './report-types.js';
import { checkStructure, isAvc } from './rules-structure.js';
import { checkTimestamps, type Drift, type Timeline } from './rules-timestamps.js';
import { checkVideo } from './rules-video.js';

export interface BuildInput {
  source: string;
  collected: Collected;
  book: RuleBook;
  counts: InspectReport['tags'];
  framing: InspectReport['framing'];
  bytes: { video: number; audio: number };
  audioInfo: { profile: string | null; channels: number | null };
  metadata: Metadata;
}

/** How long the media runs and the bitrates over that time. */
interface Rates {
  durationMs: number;
  seconds: number;
  videoKbps: number;
  audioKbps: number;
  bitrateKbps: number;
}

/** Sum of regular intervals plus one frame: gaps and steps back do not count as media. */
function spanMs(t: Timeline, frameMs: number): number {
  return t.intervals.reduce((a, b) => a + b, 0) + (t.stats.count > 0 ? frameMs : 0);
}

function measureRates(c: Collected, video: Timeline, audio: Timeline, bytes: BuildInput['bytes']): Rates {
  const audioFrameMs = c.sampleRate ? (c.frameSamples * 1000) / c.sampleRate : (median(audio.intervals) ?? 0);
  const durationMs = Math.max(spanMs(video, median(video.intervals) ?? 0), spanMs(audio, audioFrameMs));
  const seconds = durationMs / 1000;
  const videoKbps = seconds > 0 ? (bytes.video * 8) / seconds / 1000 : 0;
  const audioKbps = seconds > 0 ? (bytes.audio * 8) / seconds / 1000 : 0;
  return { durationMs, seconds, videoKbps, audioKbps, bitrateKbps: Math.round(videoKbps + audioKbps) };
}

function videoFacts(c: Collected, kbps: number): InspectReport['video'] {
  if (c.videoCodec === null) return null;
  const sps = c.sps;
  return {
    codec: isAvc(c.videoCodec) ? 'h264' : c.videoCodec,
    profile: sps ? profileName(sps.profileIdc, sps.constraintFlags) : null,
    level: sps ? levelName(sps.levelIdc) : null,
    width: sps?.width ?? null,
    height: sps?.height ?? null,
    fps: sps?.vui?.fps ?? null,
    chromaFormat: sps?.chromaFormatIdc ?? null,
    bitDepth: sps?.bitDepthLuma ?? null,
    frameMbsOnly: sps?.frameMbsOnly ?? null,
    picOrderCntType: sps?.picOrderCntType ?? null,
    maxNumReorderFrames: sps?.vui?.maxNumReorderFrames ?? null,
    frames: c.videoFrames.length,
    bFrames: c.videoFrames.some((f) => f.hasB),
    bitrateKbps: Math.round(kbps),
  };
}

function audioFacts(c: Collected, info: BuildInput['audioInfo'], kbps: number): InspectReport['audio'] {
  if (c.audioCodec === null) return null;
  return {
    codec: c.audioCodec,
    profile: info.profile,
    sampleRate: c.sampleRate,
    channels: info.channels,
    frames: c.audioFrames.length,
    bitrateKbps: Math.round(kbps),
  };
}

function avSyncFacts(c: Collected, video: Timeline, audio: Timeline, drift: Drift): InspectReport['avSync'] {
  const firstVideo = video.stats.firstMs;
  const firstAudio = audio.stats.firstMs;
  return {
    outOfOrder: c.skew.outOfOrder,
    maxBackstepMs: c.skew.maxBackstepMs,
    maxSkewMs: c.skew.maxMs,
    ...drift,
    startSkewMs: firstVideo !== null && firstAudio !== null ? firstAudio - firstVideo : null,
  };
}

function sequenceHeaderFacts(c: Collected, changes: number): InspectReport['sequenceHeaders'] {
  return {
    video: {
      count: c.videoHeaders.length,
      beforeFirstFrame: c.videoHeaders.some((h) => h.framesBefore === 0),
      inBandOnly: c.videoHeaders.length === 0 && c.inBandSps,
      changes,
    },
    audio: { count: c.audioHeaders.length, beforeFirstFrame: c.audioHeaders.some((h) => h.framesBefore === 0) },
  };
}

function verdictOf(findings: readonly RuleFinding[]): InspectReport['verdict'] {
  return {
    clean: findings.length === 0,
    accept: !findings.some((f) => f.cloudflareMust),
    broken: findings.map((f) => f.rule),
    notJudged: [...NOT_JUDGED],
    reasons: findings.map((f) => ({
      kind: f.rule,
      rule: f.rule,
      severity: f.severity,
      cloudflareMust: f.cloudflareMust,
      detail: f.detail,
    })),
  };
}

export function buildReport(input: BuildInput): InspectReport {
  const { collected: c, book } = input;
  const changes = checkStructure(book, c, input.framing);
  const { video, audio, drift } = checkTimestamps(book, c);
  const { gop, cadence } = checkVideo(book, c.videoFrames, video.intervals);
  const rates = measureRates(c, video, audio, input.bytes);
  const mismatches = metadataMismatches(c, input.metadata);
  addNotes(book, c, { seconds: rates.seconds, bitrateKbps: rates.bitrateKbps, mismatches });

  const findings = book.findings();
  return {
    source: input.source,
    tags: input.counts,
    durationMs: Math.round(rates.durationMs),
    video: videoFacts(c, rates.videoKbps),
    audio: audioFacts(c, input.audioInfo, rates.audioKbps),
    metadata: input.metadata,
    metadataMismatches: mismatches,
    gop,
    timestamps: { video: video.stats, audio: audio.stats },
    avSync: avSyncFacts(c, video, audio, drift),
    cadence,
    framing: input.framing,
    sequenceHeaders: sequenceHeaderFacts(c, changes),
    bitrateKbps: rates.bitrateKbps,
    findings,
    notes: book.notes,
    verdict: verdictOf(findings),
  };
}
