/**
 * The video half of the gap filler: follows every picture the fixer sends (decode order,
 * numbering as written) and, while the publisher is away, makes the pictures that continue
 * it without an encoder: all-skipped P pictures that repeat the last picture shown
 * (h264-skip-picture.ts) and, when a gap would outlast the keyframe limit, the last IDR
 * again with a new idr_pic_id. No sequence header goes out before it: the configuration is
 * the one in force, and the contract allows a new AVC sequence header only where the SPS
 * changes.
 *
 * Pure: the video track feeds it and decides when its pictures go out.
 */
import { parseAvcConfig } from '../flv/avc-config.js';
import { parseVideoTagBody } from '../flv/flv-tag.js';
import { MediaFormatError } from '../flv/errors.js';
import { rewriteSlice } from '../flv/h264-slice-rewrite.js';
import { ParameterSets, type SliceHeader } from '../flv/h264-slice.js';
import {
  SkipPictureTracker,
  buildSkipPicture,
  planSkipPictures,
  type SkipPicturePlan,
  type SkipPictureRefusal,
} from '../flv/h264-skip-picture.js';
import type { Sps } from '../flv/h264-sps.js';
import { nalType, NalType } from '../flv/nal-units.js';

/** §7.4.3: idr_pic_id is in 0..65535; a re-sent IDR takes the next one. */
const IDR_PIC_ID_MODULO = 65536;

/** Why a stream gets no video filler: the skip-picture refusals, and what the filler itself needs. */
export type VideoFillRefusal =
  | SkipPictureRefusal
  /** Nothing decodable has gone out yet: there is no picture to repeat. */
  | 'no-picture-yet'
  /** The last IDR could not be re-sent (its slices cannot be rewritten). */
  | 'idr-not-resendable';

export type VideoFillStart = { ok: true } | { ok: false; reason: VideoFillRefusal; detail: string };

/** A filler picture: its NAL units, and whether it is a re-sent IDR. */
export interface FillerPicture {
  nals: Buffer[];
  idr: boolean;
  /** frame_num and POC as written, for the IDR demoter's count. */
  frameNum: number;
  poc: number;
  /** How far the POC moved on from the highest before it. */
  pocStep: number;
}

interface SentConfig {
  sps: Buffer;
  parsedSps: Sps;
  pps: Map<number, Buffer>;
  /** The sets as sent, to read the slice headers written under them. */
  params: ParameterSets;
}

export class VideoFiller {
  private readonly tracker = new SkipPictureTracker();
  private config: SentConfig | null = null;
  /** The configuration the last IDR went out under, and the IDR's NAL units (copies). */
  private lastIdr: { config: SentConfig; nals: Buffer[]; idrPicId: number } | null = null;
  private lastPpsId: number | null = null;
  /** Numbering lost (an unreadable slice) until the next IDR: no filler. */
  private lost = false;
  private run: { plan: SkipPicturePlan; index: number } | null = null;

  /** A sequence header went out (FLV video tag body). */
  configurationSent(body: Buffer): void {
    try {
      const avcC = parseVideoTagBody(body).data;
      const { sps, pps } = parseAvcConfig(avcC);
      const first = sps[0];
      if (first === undefined || pps.length === 0) return;
      const params = new ParameterSets();
      const parsedSps = params.addSps(first);
      const byId = new Map<number, Buffer>();
      for (const p of pps) byId.set(params.addPps(p).ppsId, p);
      this.config = { sps: first, parsedSps, pps: byId, params };
    } catch (err) {
      if (!(err instanceof MediaFormatError)) throw err;
      this.config = null;
    }
  }

  /** A real picture went out, as written (NAL units after any demotion or renumbering). */
  picture(nals: readonly Buffer[]): void {
    this.run = null;
    const config = this.config;
    if (config === null) {
      this.lost = true;
      return;
    }
    const slice = nals.find((n) => {
      const t = nalType(n);
      return t === NalType.IDR || t === NalType.SLICE;
    });
    if (slice === undefined) return;
    let header: SliceHeader;
    try {
      header = config.params.sliceHeader(slice);
    } catch (err) {
      if (!(err instanceof MediaFormatError)) throw err;
      this.lost = true;
      return;
    }
    this.follow(header);
    if (header.nalType === NalType.IDR) {
      // Copies: the IDR may be sent again long after its payload's memory is released.
      this.lastIdr = { config, nals: nals.map((n) => Buffer.from(n)), idrPicId: header.idrPicId ?? 0 };
    }
  }

  /** Begin (or continue after an IDR) a run of skipped pictures from where the stream stands. */
  start(): VideoFillStart {
    if (this.run !== null) return { ok: true };
    const state = this.lost ? null : this.tracker.state();
    const config = this.config;
    const pps = this.lastPpsId === null ? undefined : config?.pps.get(this.lastPpsId);
    if (state === null || config === null || pps === undefined)
      return { ok: false, reason: 'no-picture-yet', detail: 'no decodable picture has gone out' };
    const planned = planSkipPictures(config.sps, pps, state);
    if (!planned.ok) return planned;
    this.run = { plan: planned.plan, index: 0 };
    return { ok: true };
  }

  /** The next skipped picture of the run (call start() first). */
  skip(): FillerPicture {
    const run = this.run;
    if (run === null) throw new Error('VideoFiller.skip outside a run');
    const nal = buildSkipPicture(run.plan, run.index);
    run.index++;
    const before = this.tracker.state()?.maxPoc ?? 0;
    const state = this.followWritten(nal);
    return { nals: [nal], idr: false, frameNum: state.frameNum, poc: state.poc, pocStep: state.poc - before };
  }

  /**
   * The last IDR again, with the next idr_pic_id; null when its slices cannot be rewritten,
   * or when the configuration sent since is not the one it went out under. The run then
   * continues from it.
   */
  resendIdr(): FillerPicture | null {
    const last = this.lastIdr;
    if (last === null || last.config !== this.config) return null;
    const sps = last.config.parsedSps;
    const idrPicId = (last.idrPicId + 1) % IDR_PIC_ID_MODULO;
    const nals: Buffer[] = [];
    try {
      for (const nal of last.nals) {
        if (nalType(nal) !== NalType.IDR) {
          nals.push(nal);
          continue;
        }
        const header = last.config.params.sliceHeader(nal);
        const pps = last.config.params.ppsById(header.ppsId);
        if (pps === undefined) return null;
        nals.push(rewriteSlice(nal, sps, pps, { frameNum: 0, picOrderCntLsb: null, demoteIdr: false, idrPicId }));
      }
    } catch (err) {
      if (!(err instanceof MediaFormatError)) throw err;
      return null;
    }
    last.idrPicId = idrPicId;
    const first = nals.find((n) => nalType(n) === NalType.IDR) as Buffer;
    const state = this.followWritten(first);
    this.run = null;
    return { nals, idr: true, frameNum: state.frameNum, poc: state.poc, pocStep: 0 };
  }

  /** Track a picture this filler wrote; returns its numbering. */
  private followWritten(nal: Buffer): { frameNum: number; poc: number } {
    const header = (this.config as SentConfig).params.sliceHeader(nal);
    this.follow(header);
    const state = this.tracker.state();
    return { frameNum: header.frameNum, poc: state?.prevRefPoc ?? 0 };
  }

  private follow(header: SliceHeader): void {
    const sps = this.config?.parsedSps;
    if (sps === undefined) {
      this.lost = true;
      return;
    }
    if (header.nalType === NalType.IDR) this.lost = false;
    this.lastPpsId = header.ppsId;
    this.tracker.picture(header, sps);
  }
}
