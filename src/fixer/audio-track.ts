/**
 * The fixer's audio track: AAC only. ADTS is stripped (with an AudioSpecificConfig
 * synthesized from its header when the stream sent none), frames wait for a late ASC
 * (bounded), the sequence header goes out before the first frame and again only when the
 * ASC changes, every AAC tag starts with 0xAF (AAC_TAG_BYTE), and timestamps come from the sample
 * clock (AAC_FRAME_SAMPLES per frame) anchored to the repaired timeline, strictly increasing.
 */
import { parseAudioSpecificConfig } from '../flv/aac-config.js';
import { adtsToAudioSpecificConfig, isAdts, stripAdts } from '../flv/adts.js';
import { silentAacFrame } from '../flv/aac-silence.js';
import { buildAacAudioTagBody, parseAudioTagBody, withAacTagByte } from '../flv/flv-tag.js';
import { AAC_FRAME_SAMPLES } from '../media/output-contract.js';
import type { Interleaver } from './interleaver.js';
import { RepairKind, TranscodeReason, type RepairRecord, type TranscodeDecision } from './repairs.js';
import type { StartGate } from './start-gate.js';
import { AudioClock, DEFAULT_AUDIO_FRAME_MS, TrackTimeline, type ClockShifts } from './track-timeline.js';
import { TAG_AUDIO } from '../media/tag-kinds.js';

export interface AudioTag {
  timestampMs: number;
  data: Buffer;
}

/** What the audio track needs from the fixer around it. */
export interface AudioTrackHost {
  readonly interleaver: Interleaver;
  readonly gate: StartGate;
  readonly maxPendingFrames: number;
  repair(r: RepairRecord): void;
  decide(reason: TranscodeDecision['reason'], atMs: number, detail: string): void;
  /** Output ms for this track's first frame of the session (the gate's base, the other track). */
  startOut(raw: number): number;
  framesIn(): void;
  framesOut(): void;
}

export class AudioTrack {
  codec: string | null = null;
  sampleRate = 0;
  channels = 0;
  readonly timeline: TrackTimeline;
  private readonly host: AudioTrackHost;
  private asc: Buffer | null = null;
  private ascSent: Buffer | null = null;
  private frameSamples = AAC_FRAME_SAMPLES;
  private pending: AudioTag[] = [];
  private readonly clock = new AudioClock();
  private lastTs = -Infinity;
  /** A filler run: the silent frame's tag body, its duration and the run's position (fractional ms). */
  private fillRun: { data: Buffer; frameMs: number; posMs: number } | null = null;

  constructor(host: AudioTrackHost, shifts: ClockShifts) {
    this.host = host;
    this.timeline = new TrackTimeline('audio', DEFAULT_AUDIO_FRAME_MS, shifts);
  }

  /** The last output timestamp, in ms (-Infinity before the first). */
  get lastOutMs(): number {
    return this.lastTs;
  }

  get frameDurationMs(): number {
    return this.timeline.frameDurationMs;
  }

  /** Gap filler: begin a run of silent frames after the last frame sent, or say why not. */
  fillStart(): { ok: true } | { ok: false; reason: string } {
    if (this.fillRun !== null) return { ok: true };
    const asc = this.ascSent;
    if (asc === null || this.lastTs === -Infinity) return { ok: false, reason: 'no audio has gone out' };
    let silent;
    try {
      const config = parseAudioSpecificConfig(asc);
      silent = silentAacFrame(config);
      if (silent.ok) {
        const data = buildAacAudioTagBody({ packetType: 1, data: silent.data });
        this.fillRun = { data, frameMs: (silent.samplesPerFrame * 1000) / config.sampleRate, posMs: this.lastTs };
        return { ok: true };
      }
    } catch {
      return { ok: false, reason: 'AudioSpecificConfig unreadable' };
    }
    return { ok: false, reason: silent.reason };
  }

  /** The output timestamp the next silent frame would get, in ms (Infinity outside a run). */
  get nextFillMs(): number {
    const run = this.fillRun;
    return run === null ? Infinity : Math.max(Math.round(run.posMs + run.frameMs), this.lastTs + 1);
  }

  /** Send the next silent frame of the run, on the sample clock. */
  fillFrame(): void {
    const run = this.fillRun;
    if (run === null) return;
    const ts = this.nextFillMs;
    run.posMs += run.frameMs;
    this.lastTs = ts;
    this.host.interleaver.push('audio', ts, { tagType: TAG_AUDIO, timestampMs: ts, data: run.data });
  }

  /** The filler run is over. */
  fillEnd(): void {
    this.fillRun = null;
  }

  /** A new publish: frames held for a late ASC belong to the old session. */
  newPublish(): void {
    this.pending = [];
  }

  push(tag: AudioTag, replay = false): void {
    let body;
    try {
      body = parseAudioTagBody(tag.data);
    } catch {
      return;
    }
    this.codec ??= body.codec;
    if (body.codec !== 'aac') {
      this.host.decide(TranscodeReason.UNSUPPORTED_AUDIO_CODEC, tag.timestampMs, `audio codec ${body.codec}`);
      return;
    }
    if (body.isSequenceHeader) {
      try {
        const config = parseAudioSpecificConfig(body.data);
        this.setAsc(Buffer.from(body.data), config.sampleRate, config.channelConfig, config.frameLengthSamples);
      } catch {
        // ignore a broken ASC; ADTS may provide one
      }
      const held = this.pending;
      this.pending = [];
      for (const t of held) this.push(t, true);
      return;
    }
    if (!replay) this.host.framesIn();
    let payloads: Buffer[] | null = null;
    if (isAdts(body.data)) {
      try {
        const stripped = stripAdts(body.data);
        payloads = stripped.payloads;
        this.host.repair({
          kind: RepairKind.ADTS_STRIPPED,
          track: 'audio',
          atMs: tag.timestampMs,
          amount: body.data.length - payloads.reduce((a, p) => a + p.length, 0),
        });
        if (this.asc === null) {
          const asc = adtsToAudioSpecificConfig(stripped.header);
          const config = parseAudioSpecificConfig(asc);
          this.setAsc(asc, config.sampleRate, config.channelConfig, config.frameLengthSamples);
          this.host.repair({
            kind: RepairKind.AAC_SEQUENCE_HEADER,
            track: 'audio',
            atMs: tag.timestampMs,
            amount: asc.length,
          });
        }
      } catch {
        return;
      }
    }
    if (this.asc === null) {
      // No AudioSpecificConfig yet (a late AAC sequence header): hold the frames, within bounds.
      this.pending.push(tag);
      while (this.pending.length > this.host.maxPendingFrames) this.pending.shift();
      return;
    }
    const frames = payloads;
    if (!this.host.gate.isOpen && this.host.gate.hold('audio', tag.timestampMs, () => this.frames(tag, frames))) return;
    this.frames(tag, frames);
  }

  /** `payloads`: the raw frames when the tag had to be taken apart (ADTS), else null (the tag passes). */
  private frames(tag: AudioTag, payloads: Buffer[] | null): void {
    let raw = tag.timestampMs;
    const frameMs = Math.round((this.frameSamples * 1000) / (this.sampleRate || 44100));
    for (const payload of payloads ?? [null]) {
      const ts = this.timestampFor(raw);
      const asc = this.asc as Buffer;
      // Same buffer: already sent (a byte compare per frame is a native call).
      if (this.ascSent !== asc) {
        if (this.ascSent === null || !this.ascSent.equals(asc))
          this.host.interleaver.push(
            'audio',
            ts,
            { tagType: TAG_AUDIO, timestampMs: ts, data: buildAacAudioTagBody({ packetType: 0, data: asc }) },
            true,
          );
        this.ascSent = asc;
      }
      let data: Buffer;
      if (payload !== null) {
        data = buildAacAudioTagBody({ packetType: 1, data: payload });
      } else {
        data = withAacTagByte(tag.data);
        if (data !== tag.data)
          this.host.repair({ kind: RepairKind.AAC_TAG_BYTE, track: 'audio', atMs: raw, amount: tag.data[0] as number });
      }
      this.host.framesOut();
      this.host.interleaver.push('audio', ts, { tagType: TAG_AUDIO, timestampMs: ts, data });
      raw = (raw + frameMs) >>> 0;
    }
  }

  /** The output timestamp of the next frame: timeline, then sample clock, strictly increasing. */
  private timestampFor(raw: number): number {
    let timelineMs: number;
    if (this.host.gate.needsStart('audio')) {
      timelineMs = this.host.startOut(raw);
      this.timeline.start(raw, timelineMs);
      this.clock.reset();
    } else {
      timelineMs = this.timeline.next(raw, (r) => this.host.repair(r));
    }
    const clockMs = this.clock.next(timelineMs, this.frameSamples);
    if (Math.abs(clockMs - timelineMs) >= 1) {
      this.host.repair({
        kind: RepairKind.AUDIO_CLOCK,
        track: 'audio',
        atMs: raw,
        amount: Math.round(clockMs - timelineMs),
      });
    }
    let ts = Math.round(clockMs);
    if (ts <= this.lastTs) {
      this.host.repair({ kind: RepairKind.AUDIO_TS_RAISED, track: 'audio', atMs: raw, amount: this.lastTs + 1 - ts });
      ts = this.lastTs + 1;
    }
    this.lastTs = ts;
    return ts;
  }

  private setAsc(asc: Buffer, sampleRate: number, channels: number, frameSamples: number): void {
    this.asc = asc;
    this.sampleRate = sampleRate;
    this.channels = channels;
    this.frameSamples = frameSamples;
    this.clock.setSampleRate(sampleRate);
    this.timeline.setFrameDuration((frameSamples * 1000) / sampleRate);
    this.host.interleaver.setFrameDuration('audio', (frameSamples * 1000) / sampleRate);
  }
}
