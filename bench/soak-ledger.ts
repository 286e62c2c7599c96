/**
 * What the soak counts: per stream, every audio and video frame a publisher handed to its
 * socket, matched in order against what the receiver (an RTMP server in this process, a
 * real socket peer of rinse's upstream) gets from rinse.
 *
 * The relay re-times frames and re-sends sequence headers by design, so neither is
 * compared. Payloads are: every coded frame must arrive byte for byte, in order, per track.
 * The one change allowed is the fixer's IDR demotion (an IDR under the minimum keyframe
 * interval, usually the restart keyframe of a reconnect, becomes a non-IDR I picture, and
 * the pictures after it up to the next kept IDR get frame_num and POC renumbered). Only
 * slice headers change, so such a frame matches when its NAL units pair up with the sent
 * ones: non-slice units byte-identical, slices of the same kind (IDR -> non-IDR for the
 * demoted one, same nal_ref_idc) whose bytes after the header region are identical (aligned
 * from the end: CABAC slice data starts byte-aligned, which the source, H.264 High, uses),
 * and the keyframe flag gone from the demoted IDR. Renumbering is accepted only inside a GOP
 * that a demoted IDR began.
 *
 * While a publisher is away, rinse's gap filler sends frames of its own: they are counted
 * apart ("filler"), never as received or unexpected, and recognised exactly: the silent AAC
 * frame for the source's AudioSpecificConfig; a P picture of one all-skipped slice (a
 * reference, a few dozen bytes: no coded picture of the source is near that small); or the
 * last IDR received, sent again with only its slice headers (a new idr_pic_id) and its
 * composition time changed.
 *
 * Frames still in node's socket buffer when a connection is destroyed abruptly never reach
 * the kernel, so rinse cannot see them: they are marked "in flight" at the cut and counted
 * apart (arrived or not), never as missing and never hidden among received.
 */
import { pino } from 'pino';
import { LiveStreamRegistry } from '../src/live/live-streams.js';
import type { MediaFrame } from '../src/media/tag-kinds.js';
import { RtmpServer } from '../src/rtmp/server.js';
import type { FlvTag } from '../src/flv/flv-reader.js';
import type { SoakSource } from './soak-publisher.js';
import { parseAudioSpecificConfig } from '../src/flv/aac-config.js';
import { silentAacFrame } from '../src/flv/aac-silence.js';
import { buildAacAudioTagBody } from '../src/flv/flv-tag.js';

type Track = 'audio' | 'video';

interface Expected {
  /** Index of the frame in the source loop. */
  src: number;
  connection: number;
  /** The socket's byte count once the frame was written: it is in the kernel when handed >= end. */
  end: number;
  inFlight: boolean;
}

/** A FIFO of expected frames (an array with a moving head, compacted now and then). */
class ExpectedQueue {
  private items: Expected[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(e: Expected): void {
    this.items.push(e);
  }

  at(i: number): Expected | undefined {
    return this.items[this.head + i];
  }

  /** Remove the first `n`. */
  shift(n: number): void {
    this.head += n;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  /** Newest first (the caller stops when it has seen enough). */
  *fromTail(): Generator<Expected> {
    for (let i = this.items.length - 1; i >= this.head; i--) yield this.items[i] as Expected;
  }
}

export interface LedgerCounts {
  sentVideo: number;
  sentAudio: number;
  receivedVideo: number;
  receivedAudio: number;
  missingVideo: number;
  missingAudio: number;
  /** Frames the receiver got that match nothing sent (a duplicate, a changed payload). */
  unexpected: number;
  /** Received IDRs the fixer demoted, and pictures after them renumbered (matched by structure, see the file comment). */
  demotedIdrs: number;
  renumbered: number;
  /** Frames not yet taken by the kernel when their connection was destroyed ... */
  inFlightAtCut: number;
  /** ... and how many of those arrived all the same. */
  inFlightArrived: number;
  sequenceHeaders: number;
  upstreamPublishes: number;
  /** Frames of rinse's gap filler (see the file comment). */
  filler: number;
}

const NAL_SLICE = 1;
const NAL_IDR = 5;
/** Bytes at the start of a slice NAL unit that a rewritten header may change (x264's headers take under 10). */
const SLICE_HEADER_BYTES = 24;
/** A rewritten header may grow or shrink by a few bytes (idr_pic_id removed, emulation prevention). */
const MAX_SLICE_HEADER_DELTA_BYTES = 16;
/** A filler P picture is one slice of this many bytes at most (x264-size pictures: 6-40 bytes). */
const MAX_SKIP_PICTURE_BYTES = 64;
/** FLV: an inter frame's first byte (frame type 2, AVC), and nal_ref_idc of a filler picture. */
const INTER_AVC_BYTE = 0x27;
const FILLER_REF_IDC = 1;
/** How many problems each stream keeps as examples. */
const EXAMPLES = 5;

/** The 4-byte-length NAL units of an AVC video tag body (5 header bytes first); null when they do not tile it. */
function nalUnits(body: Buffer): Buffer[] | null {
  const out: Buffer[] = [];
  let pos = 5;
  while (pos < body.length) {
    if (pos + 4 > body.length) return null;
    const len = body.readUInt32BE(pos);
    pos += 4;
    if (len === 0 || pos + len > body.length) return null;
    out.push(body.subarray(pos, pos + len));
    pos += len;
  }
  return out;
}

const nalType = (nal: Buffer): number => (nal[0] ?? 0) & 0x1f;
const refIdc = (nal: Buffer): number => (nal[0] ?? 0) & 0x60;

/** Same slice data after the header region, aligned from the end. */
function sameSliceData(sent: Buffer, got: Buffer): boolean {
  if (Math.abs(sent.length - got.length) > MAX_SLICE_HEADER_DELTA_BYTES) return false;
  const tail = Math.min(sent.length, got.length) - SLICE_HEADER_BYTES;
  return tail <= 0 || sent.subarray(sent.length - tail).equals(got.subarray(got.length - tail));
}

/**
 * Pair the NAL units of `sent` and `got` when only slice headers differ: other units
 * byte-identical, each slice of the same nal_ref_idc and slice data, an IDR slice becoming
 * `idrBecomes` (its NAL type). The IDR and slice counts, or null when they do not pair.
 */
function pairedSlices(sent: Buffer, got: Buffer, idrBecomes: number): { idrs: number; slices: number } | null {
  const a = nalUnits(sent);
  const b = nalUnits(got);
  if (a === null || b === null || a.length !== b.length) return null;
  let idrs = 0;
  let slices = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as Buffer;
    const y = b[i] as Buffer;
    const tx = nalType(x);
    if (tx !== NAL_IDR && tx !== NAL_SLICE) {
      if (!x.equals(y)) return null;
      continue;
    }
    const expectedType = tx === NAL_IDR ? idrBecomes : tx;
    if (nalType(y) !== expectedType || refIdc(x) !== refIdc(y) || !sameSliceData(x, y)) return null;
    if (tx === NAL_IDR) idrs++;
    slices++;
  }
  return { idrs, slices };
}

/**
 * `got` is the IDR `sent` again, as the gap filler sends it: the same NAL units, its IDR
 * slices with only their headers changed (idr_pic_id); the composition time may differ (it
 * is shown after the filler before it).
 */
function resentIdr(sent: Buffer, got: Buffer): boolean {
  if (got[0] !== sent[0] || got[1] !== sent[1]) return false;
  const paired = pairedSlices(sent, got, NAL_IDR);
  return paired !== null && paired.idrs > 0;
}

/**
 * How `got` relates to `sent` when only slice headers were rewritten: 'demoted' (an IDR
 * became a non-IDR I picture), 'renumbered' (a picture's frame_num / POC), or null.
 */
export function rewrittenSlices(sent: Buffer, got: Buffer): 'demoted' | 'renumbered' | null {
  if (got.length < 5 || sent.length < 5 || !sent.subarray(1, 5).equals(got.subarray(1, 5))) return null;
  const paired = pairedSlices(sent, got, NAL_SLICE);
  if (paired === null) return null;
  const { idrs, slices } = paired;
  if (idrs > 0) return sent[0] === 0x17 && got[0] === 0x27 && idrs === slices ? 'demoted' : null;
  return slices > 0 && sent[0] === got[0] ? 'renumbered' : null;
}

/** One stream's account: what was sent per connection against what arrived. */
export class FrameLedger {
  readonly counts: LedgerCounts = {
    sentVideo: 0,
    sentAudio: 0,
    receivedVideo: 0,
    receivedAudio: 0,
    missingVideo: 0,
    missingAudio: 0,
    unexpected: 0,
    demotedIdrs: 0,
    renumbered: 0,
    inFlightAtCut: 0,
    inFlightArrived: 0,
    sequenceHeaders: 0,
    upstreamPublishes: 0,
    filler: 0,
  };
  /** The first few problems, as sentences. */
  readonly problems: string[] = [];
  private readonly queues: Record<Track, ExpectedQueue> = { audio: new ExpectedQueue(), video: new ExpectedQueue() };
  private rewritingGop = false;
  /** The silent AAC frame (tag body) the filler sends for the source's audio. */
  private readonly silentAudio: Buffer | null;
  /** The last IDR received as sent: the filler may send it again. */
  private lastIdr: Buffer | null = null;

  constructor(
    readonly name: string,
    private readonly source: SoakSource,
  ) {
    const asc = source.headers.find((h) => h.tagType === 8);
    const silent = asc === undefined ? null : silentAacFrame(parseAudioSpecificConfig(asc.data.subarray(2)));
    this.silentAudio = silent?.ok ? buildAacAudioTagBody({ packetType: 1, data: silent.data }) : null;
  }

  /** A frame of rinse's gap filler (see the file comment). */
  private isFiller(track: Track, payload: Buffer): boolean {
    if (track === 'audio') return this.silentAudio !== null && payload.equals(this.silentAudio);
    if (payload[0] === INTER_AVC_BYTE) {
      const nals = nalUnits(payload);
      const nal = nals?.length === 1 ? nals[0] : undefined;
      return (
        nal !== undefined &&
        nal.length <= MAX_SKIP_PICTURE_BYTES &&
        nalType(nal) === NAL_SLICE &&
        refIdc(nal) === FILLER_REF_IDC << 5
      );
    }
    return this.lastIdr !== null && resentIdr(this.lastIdr, payload);
  }

  /** Frames sent and not yet received (nor settled). */
  get pending(): number {
    return this.queues.audio.length + this.queues.video.length;
  }

  sent(track: Track, src: number, connection: number, end: number): void {
    if (track === 'video') this.counts.sentVideo++;
    else this.counts.sentAudio++;
    this.queues[track].push({ src, connection, end, inFlight: false });
  }

  /** Connection `connection` was destroyed when the kernel had taken `handedBytes` of it. */
  cut(connection: number, handedBytes: number): void {
    for (const track of ['audio', 'video'] as const) {
      for (const e of this.queues[track].fromTail()) {
        if (e.connection !== connection || e.end <= handedBytes) break;
        e.inFlight = true;
        this.counts.inFlightAtCut++;
      }
    }
  }

  received(track: Track, payload: Buffer): void {
    const q = this.queues[track];
    for (let i = 0; i < q.length; i++) {
      const e = q.at(i) as Expected;
      const match = this.matches(track, e.src, payload);
      if (match === null) continue;
      this.skip(track, i);
      q.shift(1);
      if (match === 'demoted') this.counts.demotedIdrs++;
      if (match === 'renumbered') this.counts.renumbered++;
      if (track === 'video') {
        if (match === 'same' && this.source.isKeyframe(e.src)) this.lastIdr = payload;
        // A GOP that a demoted IDR began is renumbered up to the next kept IDR.
        if (match === 'demoted') this.rewritingGop = true;
        else if (match === 'same' && this.source.isKeyframe(e.src)) this.rewritingGop = false;
        this.counts.receivedVideo++;
      } else this.counts.receivedAudio++;
      if (e.inFlight) this.counts.inFlightArrived++;
      return;
    }
    if (this.isFiller(track, payload)) {
      this.counts.filler++;
      return;
    }
    this.counts.unexpected++;
    this.note(`${track} frame of ${payload.length} bytes matches nothing sent and not yet received`);
  }

  private matches(track: Track, src: number, payload: Buffer): 'same' | 'demoted' | 'renumbered' | null {
    const sent = (this.source.tags[src] as FlvTag).data;
    if (payload.equals(sent)) return 'same';
    if (track !== 'video') return null;
    const rewritten = rewrittenSlices(sent, payload);
    if (rewritten === 'demoted') return this.source.isKeyframe(src) ? 'demoted' : null;
    return rewritten === 'renumbered' && this.rewritingGop ? 'renumbered' : null;
  }

  /** The run is over and rinse has let go of the stream: what was not received is missing. */
  settle(): void {
    this.skip('audio', this.queues.audio.length);
    this.skip('video', this.queues.video.length);
  }

  /** The first `n` expected frames of `track` did not come (a later one did, or the run ended). */
  private skip(track: Track, n: number): void {
    const q = this.queues[track];
    let missing = 0;
    for (let i = 0; i < n; i++) {
      const e = q.at(i) as Expected;
      if (!e.inFlight) missing++;
    }
    if (missing === 0) {
      q.shift(n);
      return;
    }
    const first = q.at(0) as Expected;
    this.note(`${missing} ${track} frame(s) missing from connection ${first.connection}, source frame ${first.src} on`);
    if (track === 'video') this.counts.missingVideo += missing;
    else this.counts.missingAudio += missing;
    q.shift(n);
  }

  private note(problem: string): void {
    if (this.problems.length < EXAMPLES) this.problems.push(problem);
  }
}

/** Server limits for the receiver: rinse's upstreams all come from 127.0.0.1, so no per-address caps. */
const RECEIVER_LIMITS = {
  maxConnections: 5000,
  idleTimeoutMs: 120_000,
  maxConnectionsPerAddress: 0,
  maxNewConnectionsPerSecond: 0,
};

/** The receiver: an RTMP server in this process; each watched path feeds its ledger. */
export class SoakReceiver {
  private readonly hub = new LiveStreamRegistry();
  private readonly server = new RtmpServer({
    hub: this.hub,
    host: '127.0.0.1',
    port: 0,
    logger: pino({ level: 'silent' }),
    limits: RECEIVER_LIMITS,
  });
  port = 0;
  /** Paths with an upstream publishing now. */
  private readonly live = new Set<string>();

  async start(): Promise<void> {
    this.port = (await this.server.listen()).port;
  }

  /** Upstreams publishing to the receiver now. */
  get publishing(): number {
    return this.live.size;
  }

  watch(path: string, ledger: FrameLedger): void {
    this.hub.subscribe(path, {
      onPublishStart: () => {
        ledger.counts.upstreamPublishes++;
        this.live.add(path);
      },
      onPublishEnd: () => this.live.delete(path),
      onFrame: (f: MediaFrame) => {
        if (f.kind === 'data') return;
        if (f.isSequenceHeader) ledger.counts.sequenceHeaders++;
        else ledger.received(f.kind, f.payload);
      },
    });
  }

  async stop(): Promise<void> {
    await this.server.close();
  }
}
