/**
 * Turns what the analyzer collected into an {@link InspectReport}: runs the rule checks
 * (one module per rule area), adds the notes that break no rule, and fills the measured facts.
 */
import { levelName, profileName } from '../flv/h264-sps.js';
import { cause, FindingKind, NOT_JUDGED, type RuleBook } from './findings.js';
import { median, round, type Collected, type InspectReport } from './report-types.js';
import { checkStructure, isAvc } from './rules-structure.js';
import { checkTimestamps, type Timeline } from './rules-timestamps.js';
import { checkVideo } from './rules-video.js';

/** Combined bitrate Cloudflare recommends at least (a SHOULD: reported, not a broken rule), in kbit/s. */
const MIN_RECOMMENDED_BITRATE_KBPS = 2000;
/** onMetaData's framerate may differ from the SPS's by this much before it is called a mismatch. */
const FRAMERATE_SLACK = 0.5;

export interface BuildInput {
  source: string;
  collected: Collected;
  book: RuleBook;
  counts: InspectReport['tags'];
  framing: InspectReport['framing'];
  bytes: { video: number; audio: number };
  audioInfo: { profile: string | null; channels: number | null };
  metadata: Record<string, number | string | boolean> | null;
}

/** Sum of regular intervals plus one frame: gaps and steps back do not count as media. */
function spanMs(t: Timeline, frameMs: number): number {
  return t.intervals.reduce((a, b) => a + b, 0) + (t.stats.count > 0 ? frameMs : 0);
}

/** onMetaData against the SPS and the AudioSpecificConfig. */
function metadataMismatches(c: Collected, metadata: BuildInput['metadata']): string[] {
  const out: string[] = [];
  if (!metadata) return out;
  const sps = c.sps;
  if (sps) {
    if (typeof metadata.width === 'number' && metadata.width !== sps.width)
      out.push(`width ${metadata.width} declared, ${sps.width} in the SPS`);
    if (typeof metadata.height === 'number' && metadata.height !== sps.height)
      out.push(`height ${metadata.height} declared, ${sps.height} in the SPS`);
    const spsFps = sps.vui?.fps ?? null;
    if (
      typeof metadata.framerate === 'number' &&
      spsFps !== null &&
      Math.abs(metadata.framerate - spsFps) > FRAMERATE_SLACK
    ) {
      out.push(`framerate ${metadata.framerate} declared, ${round(spsFps, 2)} in the SPS`);
    }
  }
  if (c.sampleRate && typeof metadata.audiosamplerate === 'number' && metadata.audiosamplerate !== c.sampleRate) {
    out.push(`audiosamplerate ${metadata.audiosamplerate} declared, ${c.sampleRate} in the AudioSpecificConfig`);
  }
  return out;
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

export function buildReport(input: BuildInput): InspectReport {
  const { collected: c, book } = input;
  const changes = checkStructure(book, c, input.framing);
  const { video, audio, drift } = checkTimestamps(book, c);
  const { gop, cadence } = checkVideo(book, c.videoFrames, video.intervals);

  const audioFrameMs = c.sampleRate ? (c.frameSamples * 1000) / c.sampleRate : (median(audio.intervals) ?? 0);
  const durationMs = Math.max(spanMs(video, median(video.intervals) ?? 0), spanMs(audio, audioFrameMs));
  const seconds = durationMs / 1000;
  const videoKbps = seconds > 0 ? (input.bytes.video * 8) / seconds / 1000 : 0;
  const audioKbps = seconds > 0 ? (input.bytes.audio * 8) / seconds / 1000 : 0;
  const bitrateKbps = Math.round(videoKbps + audioKbps);
  if (seconds >= 1 && bitrateKbps < MIN_RECOMMENDED_BITRATE_KBPS)
    book.note(
      cause(
        FindingKind.LOW_BITRATE,
        'both',
        1,
        null,
        `${bitrateKbps} kbit/s in all (Cloudflare recommends at least ${MIN_RECOMMENDED_BITRATE_KBPS})`,
      ),
    );
  const mismatches = metadataMismatches(c, input.metadata);
  if (mismatches.length)
    book.note(cause(FindingKind.METADATA_MISMATCH, 'both', mismatches.length, null, mismatches.join('; ')));
  const stalls = c.liveStalls;
  if (stalls.count > 0)
    book.note(
      cause(
        FindingKind.STALL,
        'both',
        stalls.count,
        stalls.firstAtMs,
        `no media for >= 1 s on the live connection ${stalls.count}x`,
      ),
    );

  const findings = book.findings();
  const firstVideo = video.stats.firstMs;
  const firstAudio = audio.stats.firstMs;
  const videoHeaderFirst = c.videoHeaders.some((h) => h.framesBefore === 0);
  return {
    source: input.source,
    tags: input.counts,
    durationMs: Math.round(durationMs),
    video: videoFacts(c, videoKbps),
    audio:
      c.audioCodec === null
        ? null
        : {
            codec: c.audioCodec,
            profile: input.audioInfo.profile,
            sampleRate: c.sampleRate,
            channels: input.audioInfo.channels,
            frames: c.audioFrames.length,
            bitrateKbps: Math.round(audioKbps),
          },
    metadata: input.metadata,
    metadataMismatches: mismatches,
    gop,
    timestamps: { video: video.stats, audio: audio.stats },
    avSync: {
      outOfOrder: c.skew.outOfOrder,
      maxBackstepMs: c.skew.maxBackstepMs,
      maxSkewMs: c.skew.maxMs,
      ...drift,
      startSkewMs: firstVideo !== null && firstAudio !== null ? firstAudio - firstVideo : null,
    },
    cadence,
    framing: input.framing,
    sequenceHeaders: {
      video: {
        count: c.videoHeaders.length,
        beforeFirstFrame: videoHeaderFirst,
        inBandOnly: c.videoHeaders.length === 0 && c.inBandSps,
        changes,
      },
      audio: { count: c.audioHeaders.length, beforeFirstFrame: c.audioHeaders.some((h) => h.framesBefore === 0) },
    },
    bitrateKbps,
    findings,
    notes: book.notes,
    verdict: {
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
    },
  };
}
