/**
 * Reading the fixer's video input: the parameter sets as received (sequence header or in
 * band), and a coded video tag taken apart into a pending frame. NAL framing is normalised
 * to 4-byte AVCC, AUD and filler are dropped, SPS/PPS are taken out of the frame (they go
 * out in sequence headers instead); the tag's own body is kept when none of that changed it.
 */
import type { VideoTagBody } from '../flv/flv-tag.js';
import { ParameterSets } from '../flv/h264-slice.js';
import type { Sps } from '../flv/h264-sps.js';
import { nalType, NalType, splitNalUnits } from '../flv/nal-units.js';
import { RepairKind, type RepairRecord } from './repairs.js';

const NONE: readonly Buffer[] = [];

/** A coded video frame read from its tag, before the timeline and the GOP policy. */
export interface PendingVideo {
  rawTs: number;
  nals: Buffer[];
  cts: number;
  flagKey: boolean;
  /** The original body, when it can go out unchanged. */
  passthrough: Buffer | null;
}

/** The video track's parameter sets as last received: raw, and parsed for reading slices. */
export class ReceivedParameterSets {
  sps: Buffer[] = [];
  pps: Buffer[] = [];
  readonly parsed = new ParameterSets();
  /** The last SPS that parsed. */
  current: Sps | null = null;

  /** Both an SPS and a PPS are known: frames can go on. */
  get complete(): boolean {
    return this.sps.length > 0 && this.pps.length > 0;
  }

  /** New sets; an empty list keeps the ones known (in-band SPS without PPS, or the reverse). */
  set(sps: readonly Buffer[], pps: readonly Buffer[]): void {
    // Copies: the sets outlive the tag bodies they came in (views of the read buffers).
    if (sps.length) this.sps = sps.map((b) => Buffer.from(b));
    if (pps.length) this.pps = pps.map((b) => Buffer.from(b));
    for (const s of this.sps) {
      try {
        this.current = this.parsed.addSps(s);
      } catch {
        // Unparsable SPS: slices cannot be read, the stream still passes.
      }
    }
    for (const p of this.pps) {
      try {
        this.parsed.addPps(p);
      } catch {
        // as above
      }
    }
  }
}

/** Reads coded video tags into pending frames. */
export class VideoIngest {
  /** The AVCC NAL length size the last sequence header declared. */
  nalLengthSize: 1 | 2 | 4 = 4;
  /** The last tag's in-band SPS and PPS (almost always none: no array is made then). */
  sps: readonly Buffer[] = NONE;
  pps: readonly Buffer[] = NONE;
  private readonly repair: (r: RepairRecord) => void;

  constructor(repair: (r: RepairRecord) => void) {
    this.repair = repair;
  }

  /**
   * Read a coded video tag (`tag`, its parsed `body`) into a pending frame, recording the
   * repairs (reframing, dropped AUD/filler, moved parameter sets). Null when no NAL unit is
   * left or the NAL units cannot be split.
   */
  frame(
    tag: { timestampMs: number; data: Buffer },
    body: Pick<VideoTagBody, 'data' | 'compositionTimeMs' | 'frameType'>,
  ): PendingVideo | null {
    this.sps = NONE;
    this.pps = NONE;
    const repair = this.repair;
    let sps: Buffer[] | null = null;
    let pps: Buffer[] | null = null;
    let split;
    try {
      split = splitNalUnits(body.data, this.nalLengthSize);
    } catch {
      return null;
    }
    const nals: Buffer[] = [];
    let changed = split.framing !== 'avcc' || this.nalLengthSize !== 4;
    if (split.framing !== 'avcc')
      repair({ kind: RepairKind.NAL_REFRAMED, track: 'video', atMs: tag.timestampMs, amount: split.nals.length });
    for (const nal of split.nals) {
      const type = nalType(nal);
      if (type === NalType.AUD || type === NalType.FILLER) {
        changed = true;
        repair({ kind: RepairKind.NAL_DROPPED, track: 'video', atMs: tag.timestampMs, amount: nal.length });
      } else if (type === NalType.SPS) {
        (sps ??= []).push(nal);
      } else if (type === NalType.PPS) {
        (pps ??= []).push(nal);
      } else {
        nals.push(nal);
      }
    }
    if (sps !== null || pps !== null) {
      changed = true;
      this.sps = sps ?? NONE;
      this.pps = pps ?? NONE;
      repair({
        kind: RepairKind.PARAMETER_SETS_MOVED,
        track: 'video',
        atMs: tag.timestampMs,
        amount: this.sps.length + this.pps.length,
      });
    }
    if (nals.length === 0) return null;
    return {
      rawTs: tag.timestampMs,
      nals,
      cts: body.compositionTimeMs,
      flagKey: body.frameType === 1,
      passthrough: changed ? null : tag.data,
    };
  }
}
