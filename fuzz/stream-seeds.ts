/**
 * RTMP seeds made by the project's own writers: handshakes from a real ClientHandshake /
 * ServerHandshake exchange, chunk streams of a publish session (connect, createStream,
 * publish, metadata, audio and video from the fixtures) written by ChunkWriter, and the AMF0
 * command bodies a publisher and a server send.
 */
import { encodeFlvTags } from '../src/flv/flv-writer.js';
import { encodeAmf0 } from '../src/media/amf0-writer.js';
import { Amf0EcmaArray, Amf0TypedObject, Amf0XmlDocument, Marker, type Amf0Value } from '../src/media/amf0.js';
import { ChunkWriter, type OutgoingMessage } from '../src/rtmp/chunk-writer.js';
import { EXTENDED_TIMESTAMP_MARKER } from '../src/rtmp/chunk-parser.js';
import { connectCommandObject } from '../src/rtmp/client-connect.js';
import {
  CONTROL_CSID,
  acknowledgementMessage,
  setChunkSizeMessage,
  setPeerBandwidthMessage,
  userControlMessage,
  windowAckSizeMessage,
} from '../src/rtmp/control-messages.js';
import { ClientHandshake, HANDSHAKE_SIZE, ServerHandshake, type HandshakeMode } from '../src/rtmp/handshake.js';
import { ChunkStreamId, MessageType, UserControlEvent } from '../src/rtmp/message-types.js';
import { parseRtmpUrl } from '../src/rtmp/rtmp-url.js';
import { TAG_AUDIO } from '../src/media/tag-kinds.js';
import type { LengthField, Seed } from './mutators.js';
import { Rng } from './prng.js';

/** The handshake targets' random bytes: fixed, so a client's C1 (and a seed's S2 for it) never change. */
const HANDSHAKE_RANDOM = new Rng(0x5eed).bytes(HANDSHAKE_SIZE);
export const handshakeRandom = (n: number): Buffer => Buffer.from(HANDSHAKE_RANDOM.subarray(0, n));
export const handshakeClock = (): number => 0;
/** Bytes of media payload kept per message: enough to span a few 128-byte chunks. */
const MEDIA_PAYLOAD_BYTES = 400;
/** Media messages per chunk stream seed. */
const MEDIA_MESSAGES = 16;
/** Timestamps of the extended-timestamp seed start just below the 24-bit field's limit. */
const NEAR_EXTENDED_MS = EXTENDED_TIMESTAMP_MARKER - 100;
/** Bytes of each frame in the aggregate message. */
const AGGREGATED_BYTES = 120;
/** A message stream id as createStream hands it out. */
const PUBLISH_STREAM_ID = 1;

/** C0+C1+C2 as a client sends them, plus `tail` (the start of its chunk stream). */
function clientSide(mode: HandshakeMode, tail: Buffer): Seed {
  const out: Buffer[] = [];
  const client = new ClientHandshake({
    send: (b) => out.push(b),
    random: handshakeRandom,
    nowMs: handshakeClock,
    mode,
  });
  const server = new ServerHandshake({ send: (b) => client.push(b), random: handshakeRandom, nowMs: handshakeClock });
  client.start();
  server.push(out[0] as Buffer);
  const bytes = Buffer.concat([...out, tail]);
  return { bytes, boundaries: [1, 1 + HANDSHAKE_SIZE, 1 + 2 * HANDSHAKE_SIZE], lengths: [{ offset: 0, width: 1 }] };
}

/** S0+S1+S2 as a server answers the client target's C1 (`mode` picks that client's C1), plus `tail`. */
function serverSide(mode: HandshakeMode, tail: Buffer): Seed {
  let c0c1: Buffer = Buffer.alloc(0);
  new ClientHandshake({ send: (b) => (c0c1 = b), random: handshakeRandom, nowMs: handshakeClock, mode }).start();
  let reply: Buffer = Buffer.alloc(0);
  new ServerHandshake({ send: (b) => (reply = b), random: handshakeRandom, nowMs: handshakeClock }).push(c0c1);
  const bytes = Buffer.concat([reply, tail]);
  return { bytes, boundaries: [1, 1 + HANDSHAKE_SIZE, 1 + 2 * HANDSHAKE_SIZE], lengths: [{ offset: 0, width: 1 }] };
}

export function serverHandshakeSeeds(chunkStart: Buffer): Seed[] {
  return [
    clientSide('digest', Buffer.alloc(0)),
    clientSide('simple', Buffer.alloc(0)),
    clientSide('digest', chunkStart),
  ];
}

export function clientHandshakeSeeds(chunkStart: Buffer): Seed[] {
  return [
    serverSide('digest', Buffer.alloc(0)),
    serverSide('simple', Buffer.alloc(0)),
    serverSide('digest', chunkStart),
  ];
}

function command(name: string, transactionId: number, ...args: Amf0Value[]): OutgoingMessage {
  return {
    typeId: MessageType.COMMAND_AMF0,
    streamId: 0,
    timestampMs: 0,
    payload: encodeAmf0(name, transactionId, ...args),
  };
}

const URL = parseRtmpUrl('rtmp://127.0.0.1:1935/live/stream');

/** The command bodies of a publish, both directions, and a few of every AMF0 type. */
export function amf0Seeds(scriptBodies: readonly Seed[]): Seed[] {
  const values: Amf0Value[][] = [
    ['connect', 1, connectCommandObject(URL)],
    ['releaseStream', 2, null, 'stream'],
    ['FCPublish', 3, null, 'stream'],
    ['createStream', 4, null],
    ['publish', 5, null, 'stream', 'live'],
    [
      '_result',
      1,
      { fmsVer: 'FMS/3,0,1,123', capabilities: 31 },
      { level: 'status', code: 'NetConnection.Connect.Success', objectEncoding: 0 },
    ],
    ['_result', 4, null, PUBLISH_STREAM_ID],
    ['onStatus', 0, null, { level: 'status', code: 'NetStream.Publish.Start', description: 'stream is now published' }],
    ['@setDataFrame', 'onMetaData', new Amf0EcmaArray({ width: 1280, height: 720, framerate: 30, stereo: true })],
    [[1, 'two', [3, [4, null]], undefined], new Date(0), new Amf0XmlDocument('<a b="c"/>')],
    [
      new Amf0TypedObject('flex.messaging.io.ArrayCollection', {
        source: [1, 2],
        nested: { deeper: { deepest: true } },
      }),
    ],
  ];
  const seeds: Seed[] = values.map((v) => ({ bytes: encodeAmf0(...v) }));
  // What the writer never emits: a long string, a reference, an unsupported marker.
  const longString = Buffer.concat([Buffer.from([Marker.LONG_STRING, 0, 0, 0, 5]), Buffer.from('hello')]);
  const reference = Buffer.from([Marker.OBJECT, 0, 1, 0x61, Marker.REFERENCE, 0, 0, 0, 0, Marker.OBJECT_END]);
  seeds.push(
    { bytes: longString },
    { bytes: reference },
    { bytes: Buffer.from([Marker.UNSUPPORTED, Marker.UNDEFINED]) },
  );
  return [...seeds, ...scriptBodies];
}

interface SessionShape {
  chunkSize: number;
  /** Chunk stream ids for audio and video (same id: librtmp's one stream for both). */
  audioCsid: number;
  videoCsid: number;
  startMs: number;
}

/** What one written message's chunks look like: field offsets and where each chunk starts. */
function layout(bytes: Buffer, chunkSize: number): { fields: LengthField[]; chunkStarts: number[] } {
  const first = bytes[0] as number;
  const fmt = first >> 6;
  const low = first & 0x3f;
  const basic = low === 0 ? 2 : low === 1 ? 3 : 1;
  const fields: LengthField[] = [];
  if (fmt <= 2) fields.push({ offset: basic, width: 3 });
  if (fmt <= 1) fields.push({ offset: basic + 3, width: 3 }, { offset: basic + 6, width: 1 });
  if (fmt === 0) fields.push({ offset: basic + 7, width: 4, littleEndian: true });
  const messageHeader = [11, 7, 3, 0][fmt] as number;
  // Type 3 headers repeat whatever the stream's last field was; only type 0-2 show it here.
  const extended = fmt <= 2 && bytes.readUIntBE(basic, 3) === EXTENDED_TIMESTAMP_MARKER ? 4 : 0;
  const chunkStarts: number[] = [];
  for (let at = basic + messageHeader + extended + chunkSize; at < bytes.length; at += basic + extended + chunkSize) {
    chunkStarts.push(at);
  }
  return { fields, chunkStarts };
}

/** A publish session as a chunk stream: control, commands, metadata, then audio and video. */
function session(shape: SessionShape, media: readonly { tagType: number; timestampMs: number; data: Buffer }[]): Seed {
  const writer = new ChunkWriter();
  const parts: Buffer[] = [];
  const boundaries: number[] = [];
  const lengths: LengthField[] = [];
  let size = 0;
  const write = (csid: number, message: OutgoingMessage): void => {
    const bytes = writer.write(csid, message);
    const { fields, chunkStarts } = layout(bytes, writer.chunkSize);
    boundaries.push(size, ...chunkStarts.map((at) => size + at));
    for (const f of fields) lengths.push({ ...f, offset: f.offset + size });
    // Set Chunk Size and Abort carry a 4-byte value as their whole body.
    if (message.typeId === MessageType.SET_CHUNK_SIZE) lengths.push({ offset: size + bytes.length - 4, width: 4 });
    parts.push(bytes);
    size += bytes.length;
  };
  write(CONTROL_CSID, windowAckSizeMessage(2_500_000));
  if (shape.chunkSize !== writer.chunkSize) {
    write(CONTROL_CSID, setChunkSizeMessage(shape.chunkSize));
    writer.chunkSize = shape.chunkSize;
  }
  write(ChunkStreamId.COMMAND, command('connect', 1, connectCommandObject(URL)));
  write(CONTROL_CSID, setPeerBandwidthMessage(2_500_000, 2));
  write(ChunkStreamId.COMMAND, command('createStream', 2, null));
  write(ChunkStreamId.COMMAND, { ...command('publish', 3, null, 'stream', 'live'), streamId: PUBLISH_STREAM_ID });
  const metadata = encodeAmf0('@setDataFrame', 'onMetaData', new Amf0EcmaArray({ width: 1280, height: 720 }));
  write(ChunkStreamId.DATA, {
    typeId: MessageType.DATA_AMF0,
    streamId: PUBLISH_STREAM_ID,
    timestampMs: 0,
    payload: metadata,
  });
  media.slice(0, MEDIA_MESSAGES).forEach((tag, i) => {
    const audio = tag.tagType === TAG_AUDIO;
    write(audio ? shape.audioCsid : shape.videoCsid, {
      typeId: audio ? MessageType.AUDIO : MessageType.VIDEO,
      streamId: PUBLISH_STREAM_ID,
      timestampMs: shape.startMs + tag.timestampMs,
      payload: tag.data.subarray(0, MEDIA_PAYLOAD_BYTES),
    });
    if (i === 8) write(CONTROL_CSID, userControlMessage(UserControlEvent.PING_REQUEST, 1234));
    if (i === 12) write(CONTROL_CSID, acknowledgementMessage(size));
  });
  // §7.1.6: a few of the same frames again as one aggregate message, each framed as an FLV tag.
  const framed = media.slice(0, 3).map((t) => ({ ...t, data: t.data.subarray(0, AGGREGATED_BYTES) }));
  const payload = encodeFlvTags(framed);
  write(shape.videoCsid, {
    typeId: MessageType.AGGREGATE,
    streamId: PUBLISH_STREAM_ID,
    timestampMs: shape.startMs,
    payload,
  });
  return { bytes: Buffer.concat(parts), boundaries, lengths };
}

/** Publish sessions in the shapes real senders use: default and large chunks, shared and high csids, extended timestamps. */
export function chunkStreamSeeds(media: readonly { tagType: number; timestampMs: number; data: Buffer }[]): Seed[] {
  const shapes: SessionShape[] = [
    { chunkSize: 128, audioCsid: ChunkStreamId.AUDIO, videoCsid: ChunkStreamId.VIDEO, startMs: 0 },
    { chunkSize: 4096, audioCsid: ChunkStreamId.AUDIO, videoCsid: ChunkStreamId.VIDEO, startMs: 0 },
    { chunkSize: 60, audioCsid: ChunkStreamId.AUDIO, videoCsid: ChunkStreamId.AUDIO, startMs: 1000 },
    { chunkSize: 1000, audioCsid: 70, videoCsid: 400, startMs: 0 },
    { chunkSize: 128, audioCsid: ChunkStreamId.AUDIO, videoCsid: ChunkStreamId.VIDEO, startMs: NEAR_EXTENDED_MS },
  ];
  return shapes.map((shape) => session(shape, media));
}
