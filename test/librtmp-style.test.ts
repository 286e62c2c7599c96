/**
 * A librtmp-style publisher (what the glasses' rtmpdroid sends):
 * every message on ONE chunk stream, 128-byte chunks, headers compressed the librtmp way,
 * and each timestamp a delta to the previous message on that chunk stream whichever track
 * it belongs to. Audio runs ahead of video, so many deltas are negative and travel as
 * 32-bit values in extended timestamps. Every track's timeline must come out right.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Amf0Value } from '../src/media/amf0.js';
import { encodeAmf0 } from '../src/media/amf0-writer.js';
import { MessageType } from '../src/rtmp/message-types.js';
import { readFlv } from '../src/flv/flv-reader.js';
import { RawClient } from './support/raw-client.js';
import { FrameRecorder, startTestServer, waitFor, type TestServer } from './support/server.js';
import { testEncode } from './support/media.js';

/** librtmp's "source channel" for media; here it carries everything. */
const CSID = 4;
const CHUNK_SIZE = 128;
/** How far the audio clock runs ahead of video in send order, in ms. */
const AUDIO_LEAD_MS = 300;

interface Tag {
  typeId: number;
  timestampMs: number;
  body: Buffer;
}

/** The test input's tags, read with src/flv's reader. */
function readFlvTags(file: Buffer): Tag[] {
  return readFlv(file).tags.map((t) => ({ typeId: t.tagType, timestampMs: t.timestampMs, body: t.data }));
}

interface Packet {
  typeId: number;
  streamId: number;
  timestampMs: number;
  body: Buffer;
}

/**
 * librtmp 2.4 RTMP_SendPacket header choice: LARGE for the first packet (or a new stream
 * id), else MEDIUM, SMALL when size and type repeat; the timestamp field is the delta to
 * the previous packet on the chunk stream, modulo 2^32. With `repeatExtended`, type-3
 * continuation chunks repeat the extended timestamp (librtmp >= 2.4); without, they omit
 * it (older librtmp).
 */
function librtmpBytes(packets: Packet[], repeatExtended: boolean): { bytes: Buffer; negativeDeltas: number } {
  const out: Buffer[] = [];
  let prev: Packet | null = null;
  let negativeDeltas = 0;
  for (const p of packets) {
    let fmt: 0 | 1 | 2;
    let field: number;
    if (prev === null || prev.streamId !== p.streamId) {
      fmt = 0;
      field = p.timestampMs;
    } else {
      fmt = prev.body.length === p.body.length && prev.typeId === p.typeId ? 2 : 1;
      field = (p.timestampMs - prev.timestampMs) >>> 0;
      if (p.timestampMs < prev.timestampMs) negativeDeltas++;
    }
    const extended = field >= 0xffffff;
    const header = Buffer.alloc(1 + [11, 7, 3][fmt]! + (extended ? 4 : 0));
    header[0] = (fmt << 6) | CSID;
    header.writeUIntBE(extended ? 0xffffff : field, 1, 3);
    if (fmt <= 1) {
      header.writeUIntBE(p.body.length, 4, 3);
      header[7] = p.typeId;
      if (fmt === 0) header.writeUInt32LE(p.streamId, 8);
    }
    if (extended) header.writeUInt32BE(field, header.length - 4);
    out.push(header);
    for (let offset = 0; offset < p.body.length; offset += CHUNK_SIZE) {
      if (offset > 0) {
        out.push(Buffer.from([0xc0 | CSID]));
        if (extended && repeatExtended) out.push(header.subarray(header.length - 4));
      }
      out.push(p.body.subarray(offset, offset + CHUNK_SIZE));
    }
    prev = p;
  }
  return { bytes: Buffer.concat(out), negativeDeltas };
}

function cmd(streamId: number, ...values: Amf0Value[]): Packet {
  return { typeId: MessageType.COMMAND_AMF0, streamId, timestampMs: 0, body: encodeAmf0(...values) };
}

const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');

describe('a librtmp-style publisher (one chunk stream, cross-track deltas)', () => {
  let srv: TestServer;
  let tags: Tag[];

  beforeAll(async () => {
    tags = readFlvTags(readFileSync(await testEncode()));
    srv = await startTestServer();
  });
  afterAll(async () => {
    await srv.stop();
  });

  for (const repeatExtended of [true, false]) {
    it(`gives every track its own right timeline (${repeatExtended ? 'extended timestamps repeated on continuation chunks' : 'old librtmp: not repeated'})`, async () => {
      const path = `live/glasses/librtmp-${repeatExtended ? 'new' : 'old'}`;
      // Start the media timeline far from zero, so absolute timestamps need extended fields too.
      const baseMs = 0x1000000 + 12345;
      const media = tags
        .filter(
          (t) => t.typeId === MessageType.AUDIO || t.typeId === MessageType.VIDEO || t.typeId === MessageType.DATA_AMF0,
        )
        .map((t) => ({ typeId: t.typeId, streamId: 1, timestampMs: baseMs + t.timestampMs, body: t.body }));
      // Send order: audio is encoded faster, so it leaves AUDIO_LEAD_MS ahead of video of the same time.
      const sendKey = (p: Packet): number => p.timestampMs - (p.typeId === MessageType.AUDIO ? AUDIO_LEAD_MS : 0);
      const ordered = media
        .map((p, i) => ({ p, i }))
        .sort((a, b) => sendKey(a.p) - sendKey(b.p) || a.i - b.i)
        .map((x) => x.p);

      const packets: Packet[] = [
        cmd(0, 'connect', 1, {
          app: 'live',
          flashVer: 'FMLE/3.0 (compatible; librtmp)',
          tcUrl: 'rtmp://127.0.0.1/live',
        }),
        cmd(0, 'releaseStream', 2, null, 'glasses/' + path.split('/')[2]),
        cmd(0, 'FCPublish', 3, null, 'glasses/' + path.split('/')[2]),
        cmd(0, 'createStream', 4, null),
        cmd(1, 'publish', 5, null, 'glasses/' + path.split('/')[2], 'live'),
        ...ordered,
        cmd(0, 'FCUnpublish', 6, null, 'glasses/' + path.split('/')[2]),
        cmd(0, 'deleteStream', 7, null, 1),
      ];
      const { bytes, negativeDeltas } = librtmpBytes(packets, repeatExtended);
      expect(negativeDeltas).toBeGreaterThan(100);

      const recorder = new FrameRecorder();
      srv.registry.subscribe(path, recorder);
      const client = await RawClient.open(srv.port);
      await client.handshake();
      // Write it in TCP-sized pieces, as the glasses would.
      for (let i = 0; i < bytes.length; i += 1460) client.write(bytes.subarray(i, i + 1460));
      await waitFor(() => recorder.unpublishes === 1, 15_000, 'the librtmp-style publish to end');
      client.destroy();

      for (const [kind, typeId] of [
        ['audio', MessageType.AUDIO],
        ['video', MessageType.VIDEO],
      ] as const) {
        const sent = media
          .filter((p) => p.typeId === typeId)
          .map((p) => ({ timestampMs: p.timestampMs, md5: md5(p.body) }));
        const got = recorder.frames
          .filter((f) => f.kind === kind)
          .map((f) => ({ timestampMs: f.timestampMs, md5: f.md5 }));
        expect(got.length, kind).toBe(sent.length);
        expect(got, kind).toEqual(sent);
        // No 49-day jumps: each track is monotonic here.
        for (let i = 1; i < got.length; i++) expect(got[i]!.timestampMs - got[i - 1]!.timestampMs).toBeLessThan(1000);
      }
      srv.registry.unsubscribe(path, recorder);
      expect(srv.closed.filter((c) => c.code !== undefined)).toEqual([]);
    });
  }
});
