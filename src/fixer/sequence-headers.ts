/**
 * The video sequence-header policy: a new or changed decoder configuration goes out right
 * before the IDR it applies to, and only then (the same parameter sets again send nothing).
 * With IDR demotion on, the SPS sent may carry a raised max_num_ref_frames
 * (h264-sps-rewrite.ts), so that readers which call every I picture of a one-reference
 * stream a keyframe (FFmpeg's parser) do not take demoted IDRs for keyframes.
 */
import { buildAvcConfig, parseAvcConfig } from '../flv/avc-config.js';
import { buildAvcVideoTagBody } from '../flv/flv-tag.js';
import { raiseMaxNumRefFrames } from '../flv/h264-sps-rewrite.js';
import { RepairKind, type RepairRecord } from './repairs.js';
import type { ReceivedParameterSets } from './video-ingest.js';

/** max_num_ref_frames given to streams whose IDRs are demoted (see h264-sps-rewrite.ts). */
const DEMOTION_REF_FRAMES = 2;

/** A sequence header to send before an IDR. */
export interface SequenceHeaderOut {
  /** The FLV video tag body (AVC sequence header). */
  data: Buffer;
  /** Parameter sets to repeat in band in the IDR itself (empty when not needed). */
  inband: Buffer[];
}

export class SequenceHeaders {
  private readonly sets: ReceivedParameterSets;
  private readonly options: { readonly demoteIdrs: boolean };
  private readonly repair: (r: RepairRecord) => void;
  /** Raise max_num_ref_frames in the next sequence header sent (an IDR was demoted, or the SPS declares 0). */
  private raiseWanted: boolean;
  private raised: { from: Buffer[]; to: Buffer[] } | null = null;
  private lastSentConfig: Buffer | null = null;
  /** sps as sent (maybe rewritten) and as received. */
  private lastSentSets: { sps: Buffer[]; rawSps: Buffer[]; pps: Buffer[] } | null = null;
  private lastReceivedConfig: Buffer | null = null;
  /** The FLV tag body of the last sequence header sent (the gap filler sends it again). */
  private lastSentBody: Buffer | null = null;

  /** `seamReady`: raise from the first header on (see FixerOptions.seamReady). */
  constructor(
    sets: ReceivedParameterSets,
    options: { readonly demoteIdrs: boolean; readonly seamReady: boolean },
    repair: (r: RepairRecord) => void,
  ) {
    this.sets = sets;
    this.options = options;
    this.raiseWanted = options.demoteIdrs && options.seamReady;
    this.repair = repair;
  }

  /** The avcC record the stream sent: it goes out as it came while it says the same. */
  received(config: Buffer): void {
    this.lastReceivedConfig = config;
  }

  /** The last sequence header sent, as an FLV video tag body (null before the first). */
  get lastSent(): Buffer | null {
    return this.lastSentBody;
  }

  /** An IDR was (or will be) demoted: raise max_num_ref_frames at the next kept IDR. */
  raiseRefFrames(): void {
    this.raiseWanted = true;
  }

  /**
   * At an IDR: the sequence header to send right before it, or null when the configuration
   * sent last still holds. `mayChange`: the IDR stays a keyframe, so the SPS may change here.
   */
  atIdr(mayChange: boolean, atMs: number): SequenceHeaderOut | null {
    const pps = this.sets.pps;
    const sps = this.configSps(mayChange);
    // Cheap check first: the same parameter sets as last sent (every IDR of an all-intra
    // stream with in-band SPS/PPS comes through here).
    const unchanged =
      this.lastSentSets !== null && sameBuffers(this.lastSentSets.sps, sps) && sameBuffers(this.lastSentSets.pps, pps);
    const config = unchanged ? null : buildAvcConfig({ sps, pps });
    const same = config === null || (this.lastSentConfig !== null && configsEqual(this.lastSentConfig, config));
    this.lastSentSets = { sps, rawSps: this.sets.sps, pps };
    if (same || config === null) return null;
    const received = this.lastReceivedConfig;
    const body = received !== null && configsEqual(received, config) ? received : config;
    if (body === config)
      this.repair({ kind: RepairKind.AVC_SEQUENCE_HEADER, track: 'video', atMs, amount: config.length });
    // A raise after the start also goes in band: FFmpeg's parser reads only the first
    // sequence header, so it would keep judging I pictures by the old SPS.
    const inband =
      this.lastSentConfig !== null && this.raised !== null && sps === this.raised.to ? [...sps, ...pps] : [];
    this.lastSentConfig = config;
    const data = buildAvcVideoTagBody({ frameType: 1, packetType: 0, compositionTimeMs: 0, data: body });
    this.lastSentBody = data;
    return { data, inband };
  }

  /**
   * The SPS to put in a sequence header. With IDR demotion on, max_num_ref_frames is raised
   * once an IDR has been demoted or when the SPS declares no reference frames at all (an
   * all-intra encoder), and only at a kept IDR (`mayChange`): an SPS changes only at an IDR.
   */
  private configSps(mayChange: boolean): Buffer[] {
    const raw = this.sets.sps;
    if (!this.options.demoteIdrs) return raw;
    if (this.raised !== null && sameBuffers(this.raised.from, raw)) return this.raised.to;
    const declaresNoRefs = this.sets.current !== null && this.sets.current.maxNumRefFrames === 0;
    if (!(this.raiseWanted || declaresNoRefs)) return raw;
    // Not at this IDR: keep what was sent for these parameter sets (a new SPS forces a keyframe anyway).
    if (!mayChange && this.lastSentSets !== null && sameBuffers(this.lastSentSets.rawSps, raw))
      return this.lastSentSets.sps;
    const to = raw.map((nal) => {
      try {
        return raiseMaxNumRefFrames(nal, DEMOTION_REF_FRAMES);
      } catch {
        return nal; // the level allows no more frames: the flag and NAL type still tell
      }
    });
    if (!sameBuffers(to, raw))
      this.repair({ kind: RepairKind.SPS_REF_FRAMES, track: 'video', atMs: 0, amount: DEMOTION_REF_FRAMES });
    this.raised = { from: raw, to };
    return to;
  }
}

function sameBuffers(a: Buffer[], b: Buffer[]): boolean {
  return a.length === b.length && a.every((x, i) => x.equals(b[i] as Buffer));
}

/** Two avcC records carry the same configuration (ignoring the optional High-profile extension). */
function configsEqual(a: Buffer, b: Buffer): boolean {
  try {
    const x = parseAvcConfig(a);
    const y = parseAvcConfig(b);
    return sameBuffers(x.sps, y.sps) && sameBuffers(x.pps, y.pps);
  } catch {
    return a.equals(b);
  }
}
