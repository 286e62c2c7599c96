/**
 * The video half of the gap filler: follows every picture the fixer sends (decode order,
 * numbering as written) and, while the publisher is away, makes the pictures that continue
 * it without an encoder: all-skipped P pictures that repeat the last picture shown
 * (h264-skip-picture.ts) and, when a gap would outlast the keyframe limit, the last IDR
 * again with a new idr_pic_id. No sequence header goes out before it: the configuration is
 * the one in force, and the contract allows a new AVC sequence header only where the SPS
 * changes.
 *
 * Following costs one array push per picture: the slice headers are read only when a gap
 * starts (most streams never have one).
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
  skipPictureStateAfter,
  type SkipPicturePlan,
  type SkipPictureRefusal,
} from '../flv/h264-skip-picture.js';
import type { Sps } from '../flv/h264-sps.js';
import { nalType, NalType } from '../flv/nal-units.js';

/** §7.4.3: idr_pic_id is in 0..65535; a re-sent IDR takes the next one. */
const IDR_PIC_ID_MODULO = 65536;
/** Pictures followed since the last IDR at most (40 s at 30 fps): past it, no filler until the next IDR. */
const MAX_FOLLOWED_PICTURES = 1200;

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
  private config: SentConfig | null = null;
  /**
   * The first slice of every picture sent since the last IDR (the IDR's first), filler
   * pictures included, as written. Views, not copies: a payload handed on is never written
   * again. Read when a gap starts; empty while the numbering is unknown.
   */
  private sinceIdr: Buffer[] = [];
  /** The last IDR as sent, the configuration it went out under, and its idr_pic_id once read. */
  private lastIdr: { config: SentConfig; nals: readonly Buffer[]; idrPicId: number | null } | null = null;
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
    const slice = firstSlice(nals);
    if (slice === undefined) return;
    if (config === null) {
      this.sinceIdr = [];
      return;
    }
    if (nalType(slice) === NalType.IDR) {
      this.sinceIdr = [slice];
      this.lastIdr = { config, nals, idrPicId: null };
      return;
    }
    // Unknown numbering (no IDR yet, or too long a GOP) stays unknown until the next IDR.
    if (this.sinceIdr.length === 0) return;
    if (this.sinceIdr.length >= MAX_FOLLOWED_PICTURES) this.sinceIdr = [];
    else this.sinceIdr.push(slice);
  }

  /** Begin (or continue after an IDR) a run of skipped pictures from where the stream stands. */
  start(): VideoFillStart {
    if (this.run !== null) return { ok: true };
    const config = this.config;
    if (config === null || this.sinceIdr.length === 0)
      return { ok: false, reason: 'no-picture-yet', detail: 'no decodable picture has gone out' };
    const tracker = new SkipPictureTracker();
    let ppsId = 0;
    try {
      for (const nal of this.sinceIdr) {
        const header = config.params.sliceHeader(nal);
        tracker.picture(header, config.parsedSps);
        ppsId = header.ppsId;
      }
    } catch (err) {
      if (!(err instanceof MediaFormatError)) throw err;
      return { ok: false, reason: 'no-picture-yet', detail: `a slice header since the last IDR: ${err.message}` };
    }
    const state = tracker.state();
    const pps = config.pps.get(ppsId);
    if (state === null || pps === undefined)
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
    const before = skipPictureStateAfter(run.plan, run.index);
    run.index++;
    const after = skipPictureStateAfter(run.plan, run.index);
    this.sinceIdr.push(nal);
    return {
      nals: [nal],
      idr: false,
      frameNum: after.prevRefFrameNum,
      poc: after.prevRefPoc,
      pocStep: after.maxPoc - before.maxPoc,
    };
  }

  /**
   * The last IDR again, with the next idr_pic_id; null when its slices cannot be rewritten,
   * or when the configuration sent since is not the one it went out under. The run then
   * continues from it.
   */
  resendIdr(): FillerPicture | null {
    const last = this.lastIdr;
    if (last === null || last.config !== this.config) return null;
    const { params, parsedSps } = last.config;
    const nals: Buffer[] = [];
    let first: { nal: Buffer; header: SliceHeader } | null = null;
    try {
      last.idrPicId ??= params.sliceHeader(firstSlice(last.nals) as Buffer).idrPicId ?? 0;
      const idrPicId = (last.idrPicId + 1) % IDR_PIC_ID_MODULO;
      for (const nal of last.nals) {
        if (nalType(nal) !== NalType.IDR) {
          nals.push(nal);
          continue;
        }
        const header = params.sliceHeader(nal);
        const pps = params.ppsById(header.ppsId);
        if (pps === undefined) return null;
        const rewritten = rewriteSlice(nal, parsedSps, pps, {
          frameNum: 0,
          picOrderCntLsb: null,
          demoteIdr: false,
          idrPicId,
        });
        first ??= { nal: rewritten, header };
        nals.push(rewritten);
      }
      last.idrPicId = idrPicId;
    } catch (err) {
      if (!(err instanceof MediaFormatError)) throw err;
      return null;
    }
    if (first === null) return null;
    this.sinceIdr = [first.nal];
    this.run = null;
    // Only idr_pic_id changed: frame_num and POC are the original IDR's.
    const tracker = new SkipPictureTracker();
    tracker.picture(first.header, parsedSps);
    return { nals, idr: true, frameNum: 0, poc: tracker.state()?.prevRefPoc ?? 0, pocStep: 0 };
  }
}

/** The first slice NAL unit of a picture (types 1 and 5). */
function firstSlice(nals: readonly Buffer[]): Buffer | undefined {
  for (const n of nals) {
    const t = nalType(n);
    if (t === NalType.IDR || t === NalType.SLICE) return n;
  }
  return undefined;
}
