/**
 * The analysis behind `rinse inspect`: a pure pass over FLV tags (from a file or from an
 * RTMP play session) that collects what each track holds, then judges the stream rule by
 * rule against the output contract (src/media/output-contract.ts): rules-structure.ts,
 * rules-timestamps.ts and rules-video.ts, one rule area each, and notes.ts for what breaks
 * no rule. Limits come from the contract and the fixer's modules, never repeated here.
 *
 * Pure: no sockets, timers or logger. Live sources pass the arrival time with each tag.
 */
import { aacProfileName, parseAudioSpecificConfig } from '../flv/aac-config.js';
import { adtsToAudioSpecificConfig, isAdts, parseAdtsHeader } from '../flv/adts.js';
import { parseAvcConfig } from '../flv/avc-config.js';
import { parseAudioTagBody, parseVideoTagBody } from '../flv/flv-tag.js';
import { metadataFields, parseScriptTagBody } from '../flv/flv-script-data.js';
import { parseSps } from '../flv/h264-sps.js';
import { ParameterSets } from '../flv/h264-slice.js';
import { nalType, NalType, splitNalUnits } from '../flv/nal-units.js';
import { AAC_FRAME_SAMPLES, AAC_TAG_BYTE, MAX_AV_SKEW_MS } from '../media/output-contract.js';
import { FLV_TAG_HEADER_BYTES, PREVIOUS_TAG_SIZE_ABSENT } from '../flv/flv-reader.js';
import { signedDelta32 } from '../media/timestamps.js';
import { TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO } from '../media/tag-kinds.js';
import { RuleBook } from './findings.js';
import { PocCounter } from '../flv/h264-poc.js';
import { LIVE_STALL_MS } from './notes.js';
import { buildReport } from './report-build.js';
import { isAvc } from './rules-structure.js';
import type { AnalyzerTag, Collected, InspectReport, PacketRow, VideoFrame } from './report-types.js';

export type { AnalyzerTag, InspectReport, PacketRow, TrackTimestamps } from './report-types.js';

export class StreamAnalyzer {
  private readonly source: string;
  private readonly keepPackets: boolean;
  private readonly counts = { audio: 0, video: 0, script: 0, unparsed: 0 };
  private readonly packets: PacketRow[] = [];
  private readonly paramSets = new ParameterSets();
  private readonly poc = new PocCounter();
  private nalLengthSize = 4;
  private videoBytes = 0;
  private audioBytes = 0;
  private audioProfile: string | null = null;
  private channels: number | null = null;
  private readonly framing = { avcc: 0, annexb: 0, mixed: 0, adts: 0 };
  private metadata: Record<string, number | string | boolean> | null = null;
  private readonly last: { audio: number | null; video: number | null } = { audio: null, video: null };
  private lastArrivalMs: number | null = null;
  private readonly c: Collected = {
    videoCodec: null,
    audioCodec: null,
    sps: null,
    nalLengthSizes: new Set(),
    inBandSps: false,
    videoFrames: [],
    videoHeaders: [],
    audioFrames: [],
    audioHeaders: [],
    aacTagBytes: { wrong: 0, firstAtMs: null, seen: new Set() },
    sampleRate: null,
    frameSamples: AAC_FRAME_SAMPLES,
    parse: { errors: 0, firstAtMs: null, details: [] },
    unsplittable: { count: 0, firstAtMs: null },
    skew: { maxMs: 0, over: 0, firstAtMs: null, outOfOrder: 0, maxBackstepMs: 0 },
    liveStalls: { count: 0, firstAtMs: null },
  };

  constructor(source: string, options: { keepPackets?: boolean } = {}) {
    this.source = source;
    this.keepPackets = options.keepPackets ?? false;
  }

  push(tag: AnalyzerTag): void {
    if (tag.arrivalMs !== undefined) {
      if (this.lastArrivalMs !== null && tag.arrivalMs - this.lastArrivalMs >= LIVE_STALL_MS) {
        this.c.liveStalls.count++;
        this.c.liveStalls.firstAtMs ??= tag.timestampMs;
      }
      this.lastArrivalMs = tag.arrivalMs;
    }
    const size = tag.previousTagSize;
    if (size !== undefined && size !== PREVIOUS_TAG_SIZE_ABSENT && size !== tag.data.length + FLV_TAG_HEADER_BYTES) {
      this.parseError(
        `PreviousTagSize ${size} after a tag of ${tag.data.length + FLV_TAG_HEADER_BYTES} bytes`,
        tag.timestampMs,
      );
    }
    try {
      if (tag.tagType === TAG_VIDEO) this.onVideo(tag);
      else if (tag.tagType === TAG_AUDIO) this.onAudio(tag);
      else if (tag.tagType === TAG_SCRIPT) this.onScript(tag);
    } catch (err) {
      this.counts.unparsed++;
      this.parseError(
        `a tag at ${tag.timestampMs} ms does not parse (${err instanceof Error ? err.message : String(err)})`,
        tag.timestampMs,
      );
    }
  }

  /** The container itself is broken here (the reader lost sync, a tag does not parse). */
  parseError(detail: string, atMs: number | null): void {
    const p = this.c.parse;
    p.errors++;
    p.firstAtMs ??= atMs;
    p.details.push(detail);
  }

  /** In arrival order: skew between the tracks' last DTS, and tags older than the other track's last. */
  private crossTrack(kind: 'audio' | 'video', ts: number): void {
    const other = kind === 'audio' ? this.last.video : this.last.audio;
    this.last[kind] = ts;
    if (other === null) return;
    const s = this.c.skew;
    if (ts < other) {
      s.outOfOrder++;
      s.maxBackstepMs = Math.max(s.maxBackstepMs, other - ts);
    }
    // FLV timestamps are 32-bit: across a wrap the tracks are as far apart as modulo 2^32 (the wrap is monotonic's).
    const skew = Math.abs(signedDelta32(ts, other));
    s.maxMs = Math.max(s.maxMs, skew);
    if (skew > MAX_AV_SKEW_MS) {
      s.over++;
      s.firstAtMs ??= ts;
    }
  }

  private onScript(tag: AnalyzerTag): void {
    this.counts.script++;
    const body = parseScriptTagBody(tag.data);
    if (body.name === 'onMetaData' && this.metadata === null) this.metadata = metadataFields(body.value);
  }

  private onVideo(tag: AnalyzerTag): void {
    this.counts.video++;
    const body = parseVideoTagBody(tag.data);
    const c = this.c;
    c.videoCodec ??= body.codec;
    if (body.packetKind === 'sequence-header') {
      if (isAvc(body.codec)) {
        const config = parseAvcConfig(body.data);
        this.nalLengthSize = config.nalLengthSize;
        c.nalLengthSizes.add(config.nalLengthSize);
        for (const s of config.sps) {
          this.paramSets.addSps(s);
          c.sps ??= parseSps(s);
        }
        for (const p of config.pps) this.paramSets.addPps(p);
        // The parameter sets, not the record's bytes: they are what a decoder re-initialises on.
        const params = Buffer.concat([...config.sps, Buffer.from([0]), ...config.pps]);
        c.videoHeaders.push({
          dts: tag.timestampMs,
          tagByte: tag.data[0] ?? 0,
          params,
          framesBefore: c.videoFrames.length,
        });
      } else {
        c.videoHeaders.push({
          dts: tag.timestampMs,
          tagByte: tag.data[0] ?? 0,
          params: Buffer.from(body.data),
          framesBefore: c.videoFrames.length,
        });
      }
      return;
    }
    if (body.packetKind !== 'coded-frames') return;
    this.videoBytes += tag.data.length;
    this.crossTrack('video', tag.timestampMs);
    const frame: VideoFrame = {
      dts: tag.timestampMs,
      cts: body.compositionTimeMs,
      flagKey: body.frameType === 1,
      idr: null,
      hasB: false,
      poc: null,
      framing: null,
    };
    if (isAvc(body.codec)) this.inspectAvcFrame(body.data, frame);
    c.videoFrames.push(frame);
    if (this.keepPackets)
      this.packets.push({
        type: 'video',
        dts: tag.timestampMs,
        pts: tag.timestampMs + body.compositionTimeMs,
        keyframe: frame.flagKey,
      });
  }

  private inspectAvcFrame(data: Buffer, frame: VideoFrame): void {
    let split: ReturnType<typeof splitNalUnits>;
    try {
      split = splitNalUnits(data, this.nalLengthSize as 1 | 2 | 4);
    } catch {
      this.c.unsplittable.count++;
      this.c.unsplittable.firstAtMs ??= frame.dts;
      return;
    }
    frame.framing = split.framing;
    this.framing[split.framing]++;
    let idr = false;
    let sliceSeen = false;
    for (const nal of split.nals) {
      const type = nalType(nal);
      if (type === NalType.SPS) {
        this.c.inBandSps = true;
        this.paramSets.addSps(nal);
        this.c.sps ??= parseSps(nal);
      } else if (type === NalType.PPS) {
        this.paramSets.addPps(nal);
      } else if (type === NalType.IDR || type === NalType.SLICE) {
        if (type === NalType.IDR) idr = true;
        if (!sliceSeen) {
          sliceSeen = true;
          this.readSlice(nal, frame);
        }
      }
    }
    frame.idr = idr;
  }

  private readSlice(nal: Buffer, frame: VideoFrame): void {
    try {
      const sh = this.paramSets.sliceHeader(nal);
      frame.hasB = sh.sliceKind === 'B';
      const sps = this.paramSets.spsForPps(sh.ppsId);
      if (sps) frame.poc = this.poc.next(sh, sps);
    } catch {
      // Parameter sets not known yet (late sequence header): slice type and POC stay unknown.
    }
  }

  private onAudio(tag: AnalyzerTag): void {
    this.counts.audio++;
    const body = parseAudioTagBody(tag.data);
    const c = this.c;
    c.audioCodec ??= body.codec;
    const tagByte = tag.data[0] ?? 0;
    if (body.codec === 'aac') {
      c.aacTagBytes.seen.add(tagByte);
      if (tagByte !== AAC_TAG_BYTE) {
        c.aacTagBytes.wrong++;
        c.aacTagBytes.firstAtMs ??= tag.timestampMs;
      }
    }
    if (body.isSequenceHeader) {
      const asc = parseAudioSpecificConfig(body.data);
      c.sampleRate ??= asc.sampleRate;
      this.channels ??= asc.channelConfig;
      c.frameSamples = asc.frameLengthSamples;
      this.audioProfile ??= aacProfileName(asc.objectType, asc.extensionObjectType);
      c.audioHeaders.push({
        dts: tag.timestampMs,
        tagByte,
        params: Buffer.from(body.data),
        framesBefore: c.audioFrames.length,
      });
      return;
    }
    this.audioBytes += tag.data.length;
    this.crossTrack('audio', tag.timestampMs);
    const adts = body.codec === 'aac' && isAdts(body.data);
    c.audioFrames.push({ dts: tag.timestampMs, tagByte, adts });
    if (adts) {
      this.framing.adts++;
      if (c.sampleRate === null) {
        const asc = parseAudioSpecificConfig(adtsToAudioSpecificConfig(parseAdtsHeader(body.data)));
        c.sampleRate = asc.sampleRate;
        this.channels = asc.channelConfig;
        this.audioProfile ??= aacProfileName(asc.objectType, asc.extensionObjectType);
      }
    }
    if (this.keepPackets)
      this.packets.push({ type: 'audio', dts: tag.timestampMs, pts: tag.timestampMs, keyframe: true });
  }

  finish(): InspectReport {
    const report = buildReport({
      source: this.source,
      collected: this.c,
      book: new RuleBook(),
      counts: { ...this.counts },
      framing: { ...this.framing },
      bytes: { video: this.videoBytes, audio: this.audioBytes },
      audioInfo: { profile: this.audioProfile, channels: this.channels },
      metadata: this.metadata,
    });
    if (this.keepPackets) report.packets = this.packets;
    return report;
  }
}
