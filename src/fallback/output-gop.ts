/**
 * The keyframe interval of the transcoded output across an ffmpeg restart. A restarted
 * encoder must begin with an IDR right after the last frame sent (it cannot continue the
 * dead one's references), which can come well under the contract's minimum interval after
 * the last keyframe. When the new encoder's parameter sets are the old one's (same settings,
 * same picture: x264 writes them byte for byte alike), that IDR is demoted to a non-IDR I
 * picture like the fixer's (idr-demotion.ts), and the GOP runs on to the next forced keyframe.
 */
import { parseAvcConfig } from '../flv/avc-config.js';
import { buildAvcVideoTagBody, parseVideoTagBody } from '../flv/flv-tag.js';
import { ParameterSets } from '../flv/h264-slice.js';
import type { MediaTag } from '../media/tag-kinds.js';
import { joinAvcc, nalType, NalType, splitAvcc } from '../flv/nal-units.js';
import { IdrDemoter } from '../fixer/idr-demotion.js';
import { MIN_KEYFRAME_INTERVAL_MS } from '../media/output-contract.js';

export class OutputGop {
  private readonly params = new ParameterSets();
  private readonly demoter = new IdrDemoter(this.params);
  private lastKeyMs: number | null = null;
  /** IDRs demoted so far. */
  demoted = 0;

  /** An AVC sequence header that goes upstream. */
  header(body: Buffer): void {
    try {
      const config = parseAvcConfig(parseVideoTagBody(body).data);
      for (const sps of config.sps) this.params.addSps(sps);
      for (const pps of config.pps) this.params.addPps(pps);
    } catch {
      // An unreadable header: its slices cannot be read, and nothing is demoted.
    }
  }

  /**
   * A coded video frame body that goes upstream at `tsMs`; returns the body to send.
   * `mayDemote`: its parameter sets are those already sent (no new sequence header before it).
   */
  frame(body: Buffer, tsMs: number, mayDemote: boolean): Buffer {
    let nals: Buffer[];
    let cts: number;
    try {
      const v = parseVideoTagBody(body);
      if (v.packetKind !== 'coded-frames') return body;
      nals = splitAvcc(v.data);
      cts = v.compositionTimeMs;
    } catch {
      return body;
    }
    const idr = nals.some((n) => nalType(n) === NalType.IDR);
    const tooSoon = idr && mayDemote && this.lastKeyMs !== null && tsMs - this.lastKeyMs < MIN_KEYFRAME_INTERVAL_MS;
    const result = this.demoter.frame(nals, idr, tooSoon);
    if (idr && !result.demoted) this.lastKeyMs = tsMs;
    if (result.demoted) this.demoted++;
    if (result.nals === nals) return body;
    const frameType = result.demoted ? 2 : (((body[0] as number) >> 4) as 1 | 2);
    return buildAvcVideoTagBody({ frameType, packetType: 1, compositionTimeMs: cts, data: joinAvcc(result.nals) });
  }
}

/**
 * One track's sequence header from the transcoder: the latest one it wrote, sent before a
 * frame only when it differs from the one last sent (a restarted x264 with the same
 * settings writes the same one).
 */
export class TrackHeader {
  private latest: Buffer | null = null;
  private sent: Buffer | null = null;

  constructor(private readonly tagType: number) {}

  /** The transcoder wrote a sequence header; a (re)start forgets the previous one. */
  set(data: Buffer | null): void {
    this.latest = data;
  }

  /** The header tag to send before a frame at `timestampMs`, or null when the receiver has it. */
  due(timestampMs: number): MediaTag | null {
    if (this.latest === null || (this.sent !== null && this.sent.equals(this.latest))) return null;
    this.sent = this.latest;
    return { tagType: this.tagType, timestampMs, data: this.latest };
  }
}
