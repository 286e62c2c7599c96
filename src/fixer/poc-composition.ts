/**
 * Composition time from the slice POC, for streams that send B-frames with CTS 0 (their
 * presentation order is then known only from the bitstream). Once such a stream is seen
 * (a B slice with CTS 0, or an IDR with CTS 0 under an SPS that allows reordering), every
 * frame with CTS 0 gets pts = the last IDR's DTS + (POC / 2 + reorder delay) frames.
 * pic_order_cnt_type 1 is not counted (a transcode decision); type 2 has no reordering.
 */
import { PocCounter } from '../flv/h264-poc.js';
import { nalType, NalType } from '../flv/nal-units.js';
import { RepairKind, TranscodeReason, type RepairRecord, type TranscodeDecision } from './repairs.js';
import type { PendingVideo, ReceivedParameterSets } from './video-ingest.js';

/** B-frame reorder delay assumed when the SPS does not state max_num_reorder_frames. */
const DEFAULT_REORDER_FRAMES = 2;

/** What POC composition needs from the video track around it. */
export interface PocCompositionHost {
  readonly sets: ReceivedParameterSets;
  /** The video frame interval, in ms, as the track knows it now. */
  frameDurationMs(): number;
  repair(r: RepairRecord): void;
  decide(reason: TranscodeDecision['reason'], atMs: number, detail: string): void;
}

export class PocComposition {
  private readonly host: PocCompositionHost;
  private readonly sets: ReceivedParameterSets;
  private pocMode = false;
  private readonly poc = new PocCounter();
  private idrDtsMs = 0;

  constructor(host: PocCompositionHost) {
    this.host = host;
    this.sets = host.sets;
  }

  /** An IDR goes out at `dts`: POCs count from it. */
  idrAt(dts: number): void {
    this.idrDtsMs = dts;
  }

  /** A new decoder configuration went out before the IDR `f`. */
  configurationSent(f: PendingVideo): void {
    this.pocMode = this.pocMode || this.needsPoc(f);
  }

  /** The frame's composition time, in ms: kept, or derived from the POC for B-frames sent with 0. */
  cts(f: PendingVideo, dts: number): number {
    if (f.cts !== 0) return f.cts;
    const firstB = !this.pocMode && this.hasB(f);
    if (!this.pocMode && !firstB) return 0;
    this.pocMode = true;
    const derived = this.ctsFromPoc(f, dts);
    // The B-frame that turns POC mode on is recorded even when its CTS comes out 0.
    if (derived === null || (derived === 0 && !firstB)) return 0;
    this.host.repair({ kind: RepairKind.CTS_FROM_POC, track: 'video', atMs: f.rawTs, amount: derived });
    return derived;
  }

  private hasB(f: PendingVideo): boolean {
    const slice = firstSlice(f);
    if (!slice) return false;
    try {
      return this.sets.parsed.sliceHeader(slice).sliceKind === 'B';
    } catch {
      return false;
    }
  }

  /** An IDR with CTS 0 in a stream whose SPS allows reordering: B-frames will come without CTS. */
  private needsPoc(f: PendingVideo): boolean {
    const reorder = this.sets.current?.vui?.maxNumReorderFrames;
    return f.cts === 0 && reorder !== null && reorder !== undefined && reorder > 0;
  }

  private ctsFromPoc(f: PendingVideo, dts: number): number | null {
    const slice = firstSlice(f);
    const sps = this.sets.current;
    if (!slice || !sps) return null;
    if (sps.picOrderCntType === 1) {
      this.host.decide(TranscodeReason.BFRAMES_WITHOUT_POC, f.rawTs, 'B-frames with CTS 0 and pic_order_cnt_type 1');
      return null;
    }
    if (sps.picOrderCntType !== 0) return 0;
    let header;
    try {
      header = this.sets.parsed.sliceHeader(slice);
    } catch {
      return null;
    }
    const poc = this.poc.next(header, sps) ?? 0;
    const frameMs = this.host.frameDurationMs();
    const reorder = sps.vui?.maxNumReorderFrames ?? DEFAULT_REORDER_FRAMES;
    // x264 and MediaCodec count POC in steps of 2 per frame.
    const pts = this.idrDtsMs + (poc / 2 + reorder) * frameMs;
    return Math.max(0, Math.round(pts - dts));
  }
}

function firstSlice(f: PendingVideo): Buffer | undefined {
  return f.nals.find((n) => {
    const t = nalType(n);
    return t === NalType.IDR || t === NalType.SLICE;
  });
}
