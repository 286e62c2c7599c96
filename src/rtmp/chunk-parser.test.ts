import { describe, expect, it } from 'vitest';
import { ChunkParser, type ChunkParserLimits } from './chunk-parser.js';
import { ChunkWriter, type OutgoingMessage } from './chunk-writer.js';
import { setChunkSizeMessage } from './control-messages.js';
import { RtmpError, RtmpErrorCode } from './errors.js';
import { MessageType, type RtmpMessage } from './message-types.js';
import { randomBytes, seededRandom, splits } from '../../test/support/split.js';

interface Seen {
  csid: number;
  typeId: number;
  streamId: number;
  timestampMs: number;
  payloadHex: string;
}

function parseAll(pieces: Buffer[], limits?: Partial<ChunkParserLimits>): Seen[] {
  const seen: Seen[] = [];
  const parser = new ChunkParser({
    limits,
    onMessage: (m: RtmpMessage) =>
      seen.push({
        csid: m.csid,
        typeId: m.typeId,
        streamId: m.streamId,
        timestampMs: m.timestampMs,
        payloadHex: m.payload.toString('hex'),
      }),
  });
  for (const p of pieces) parser.push(p);
  expect(parser.midMessage).toBe(false);
  return seen;
}

function parseError(bytes: Buffer, limits?: Partial<ChunkParserLimits>): RtmpError {
  const parser = new ChunkParser({ limits, onMessage: () => {} });
  try {
    parser.push(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(RtmpError);
    return err as RtmpError;
  }
  throw new Error('expected the parser to throw');
}

/** A mixed session: commands, audio and video on several chunk streams, ext timestamps, a chunk size change. */
function buildSession(): { bytes: Buffer; expected: Seen[] } {
  const writer = new ChunkWriter();
  const rnd = seededRandom(2024);
  const parts: Buffer[] = [];
  const expected: Seen[] = [];
  const send = (csid: number, m: OutgoingMessage): void => {
    parts.push(writer.write(csid, m));
    expected.push({
      csid,
      typeId: m.typeId,
      streamId: m.streamId,
      timestampMs: m.timestampMs >>> 0,
      payloadHex: m.payload.toString('hex'),
    });
  };
  send(3, { typeId: MessageType.COMMAND_AMF0, streamId: 0, timestampMs: 0, payload: randomBytes(300, 1) });
  const setSize = setChunkSizeMessage(4096);
  send(2, setSize);
  writer.chunkSize = 4096;
  let videoTs = 0;
  let audioTs = 0;
  for (let i = 0; i < 120; i++) {
    if (i % 3 === 0) {
      videoTs += 33 + (i % 2);
      send(6, {
        typeId: MessageType.VIDEO,
        streamId: 1,
        timestampMs: videoTs,
        payload: randomBytes(1 + Math.floor(rnd() * 20000), i),
      });
    }
    audioTs += 23;
    send(4, {
      typeId: MessageType.AUDIO,
      streamId: 1,
      timestampMs: audioTs,
      payload: randomBytes(i % 5 === 0 ? 200 : 180, 1000 + i),
    });
  }
  // Extended timestamps: absolute above 2^24 and a delta above 2^24.
  send(6, { typeId: MessageType.VIDEO, streamId: 1, timestampMs: 0x1000000 + 5, payload: randomBytes(9000, 77) });
  send(6, { typeId: MessageType.VIDEO, streamId: 1, timestampMs: 0x2000000 + 90, payload: randomBytes(9000, 78) });
  send(6, { typeId: MessageType.VIDEO, streamId: 1, timestampMs: 0x3000000 + 175, payload: randomBytes(9000, 79) });
  // 2- and 3-byte basic headers, and an empty message.
  send(64, { typeId: MessageType.DATA_AMF0, streamId: 1, timestampMs: 5, payload: randomBytes(50, 3) });
  send(319, { typeId: MessageType.DATA_AMF0, streamId: 1, timestampMs: 6, payload: randomBytes(5000, 4) });
  send(320, { typeId: MessageType.DATA_AMF0, streamId: 1, timestampMs: 7, payload: randomBytes(70, 5) });
  send(65599, { typeId: MessageType.DATA_AMF0, streamId: 7, timestampMs: 8, payload: Buffer.alloc(0) });
  return { bytes: Buffer.concat(parts), expected };
}

describe('ChunkParser split test', () => {
  const { bytes, expected } = buildSession();
  for (const split of splits(bytes)) {
    it(`gives the same messages for ${split.name}`, () => {
      expect(parseAll(split.pieces)).toEqual(expected);
    });
  }
});

describe('ChunkParser headers (RTMP 1.0 §5.3)', () => {
  it('follows spec example 1: type 0, then type 2 delta, then type 3 repeating the delta', () => {
    // §5.3.2.1: audio on csid 3, stream 12345, 32-byte messages, timestamps 1000, 1020, 1040, 1060.
    const payload = Buffer.alloc(32, 0xaa);
    const bytes = Buffer.concat([
      Buffer.from('03' + '0003e8' + '000020' + '08' + '39300000', 'hex'),
      payload,
      Buffer.from('83' + '000014', 'hex'),
      payload,
      Buffer.from('c3', 'hex'),
      payload,
      Buffer.from('c3', 'hex'),
      payload,
    ]);
    expect(parseAll([bytes]).map((m) => [m.timestampMs, m.streamId])).toEqual([
      [1000, 12345],
      [1020, 12345],
      [1040, 12345],
      [1060, 12345],
    ]);
  });

  it('follows spec example 2: one 307-byte message in 128-byte chunks', () => {
    const payload = randomBytes(307, 9);
    const bytes = Buffer.concat([
      Buffer.from('04' + '0003e8' + '000133' + '09' + '01000000', 'hex'),
      payload.subarray(0, 128),
      Buffer.from('c4', 'hex'),
      payload.subarray(128, 256),
      Buffer.from('c4', 'hex'),
      payload.subarray(256),
    ]);
    const [m] = parseAll([bytes]);
    expect(m?.payloadHex).toBe(payload.toString('hex'));
    expect(m?.timestampMs).toBe(1000);
  });

  it('takes audio and video payloads from one slab, and gives commands and data buffers of their own', () => {
    const w = new ChunkWriter();
    const msg = (typeId: number, length: number, timestampMs: number): Buffer =>
      w.write(typeId === MessageType.AUDIO ? 4 : typeId === MessageType.VIDEO ? 6 : 3, {
        typeId,
        streamId: 1,
        timestampMs,
        payload: Buffer.alloc(length, typeId),
      });
    const got: RtmpMessage[] = [];
    const parser = new ChunkParser({ onMessage: (m) => got.push(m) });
    parser.push(
      Buffer.concat([
        msg(MessageType.VIDEO, 300, 0),
        msg(MessageType.COMMAND_AMF0, 40, 0),
        msg(MessageType.AUDIO, 20, 10),
        msg(MessageType.DATA_AMF0, 30, 20),
        msg(MessageType.VIDEO, 200, 33),
      ]),
    );
    const [video1, command, audio, data, video2] = got as [
      RtmpMessage,
      RtmpMessage,
      RtmpMessage,
      RtmpMessage,
      RtmpMessage,
    ];
    expect(audio.payload.buffer).toBe(video1.payload.buffer);
    expect(video2.payload.buffer).toBe(video1.payload.buffer);
    expect(video1.payload.buffer.byteLength).toBe(256 * 1024);
    for (const other of [command, data]) expect(other.payload.buffer).not.toBe(video1.payload.buffer);
    expect(got.map((m) => m.payload.every((b) => b === m.typeId))).toEqual([true, true, true, true, true]);
  });

  it('adds negative deltas modulo 2^32 (librtmp cross-track deltas)', () => {
    // ts 1000 (type 0), then delta -279 sent as an extended 4294967017 (type 1).
    const bytes = Buffer.concat([
      Buffer.from('04' + '0003e8' + '000002' + '09' + '01000000', 'hex'),
      Buffer.from('1701', 'hex'),
      Buffer.from('44' + 'ffffff' + '000002' + '08' + 'fffffee9', 'hex'),
      Buffer.from('af01', 'hex'),
    ]);
    expect(parseAll([bytes]).map((m) => m.timestampMs)).toEqual([1000, 721]);
  });

  it('reads the extended timestamp repeated on type-3 continuation chunks', () => {
    const payload = randomBytes(200, 11);
    const bytes = Buffer.concat([
      Buffer.from('04' + 'ffffff' + '0000c8' + '09' + '01000000' + '01000000', 'hex'),
      payload.subarray(0, 128),
      Buffer.from('c4' + '01000000', 'hex'),
      payload.subarray(128),
    ]);
    const [m] = parseAll([bytes]);
    expect(m?.timestampMs).toBe(0x1000000);
    expect(m?.payloadHex).toBe(payload.toString('hex'));
  });

  it('falls back when a sender omits the extended timestamp on type-3 chunks', () => {
    const payload = randomBytes(200, 12);
    const bytes = Buffer.concat([
      Buffer.from('04' + 'ffffff' + '0000c8' + '09' + '01000000' + '01000000', 'hex'),
      payload.subarray(0, 128),
      Buffer.from('c4', 'hex'),
      payload.subarray(128),
    ]);
    for (const split of splits(bytes)) {
      const [m] = parseAll(split.pieces);
      expect(m?.payloadHex, split.name).toBe(payload.toString('hex'));
    }
  });

  it('applies Abort: the partial message is dropped and the next one parses', () => {
    const payload = randomBytes(200, 13);
    const bytes = Buffer.concat([
      Buffer.from('04' + '000010' + '0000c8' + '09' + '01000000', 'hex'),
      payload.subarray(0, 128),
      Buffer.from('02' + '000000' + '000004' + '02' + '00000000' + '00000004', 'hex'),
      Buffer.from('04' + '000020' + '000002' + '09' + '01000000' + 'beef', 'hex'),
    ]);
    const seen = parseAll([bytes]);
    expect(seen.map((m) => [m.typeId, m.payloadHex])).toEqual([
      [MessageType.ABORT, '00000004'],
      [MessageType.VIDEO, 'beef'],
    ]);
  });
});

describe('ChunkParser limits and violations', () => {
  const cases: Array<[string, Buffer, RtmpErrorCode, Partial<ChunkParserLimits>?]> = [
    ['Set Chunk Size 0', Buffer.from('02000000000004010000000000000000', 'hex'), RtmpErrorCode.CHUNK_SIZE],
    [
      'Set Chunk Size with the top bit set',
      Buffer.from('02000000000004010000000080000000', 'hex'),
      RtmpErrorCode.CHUNK_SIZE,
    ],
    [
      'Set Chunk Size over the configured limit',
      Buffer.from('02000000000004010000000000010001', 'hex'),
      RtmpErrorCode.CHUNK_SIZE,
      { maxChunkSize: 65536 },
    ],
    [
      'a message longer than the limit',
      Buffer.from('0400000010000109' + '01000000', 'hex'),
      RtmpErrorCode.MESSAGE_TOO_LARGE,
      { maxMessageBytes: 4096 },
    ],
    ['an unknown message type', Buffer.from('040000000000107f01000000', 'hex'), RtmpErrorCode.MESSAGE_TYPE],
    ['a type-3 chunk with no prior header', Buffer.from('c4', 'hex'), RtmpErrorCode.NO_PRIOR_HEADER],
    ['a type-1 chunk with no prior header', Buffer.from('44000000000004080000', 'hex'), RtmpErrorCode.NO_PRIOR_HEADER],
    ['a short Set Chunk Size', Buffer.from('0200000000000201000000000001', 'hex'), RtmpErrorCode.CONTROL_MESSAGE],
  ];
  for (const [name, bytes, code, limits] of cases) {
    it(`rejects ${name} with ${code}`, () => {
      expect(parseError(bytes, limits).code).toBe(code);
    });
  }

  it('rejects a chunk-stream flood with ERR_RTMP_CHUNK_STREAMS', () => {
    const parts: Buffer[] = [];
    for (let csid = 3; csid < 3 + 100; csid++) {
      parts.push(
        Buffer.from([csid < 64 ? csid : 0, ...(csid < 64 ? [] : [csid - 64]), 0, 0, 0, 0, 0, 1, 9, 1, 0, 0, 0, 0x17]),
      );
    }
    expect(parseError(Buffer.concat(parts), { maxChunkStreams: 32 }).code).toBe(RtmpErrorCode.CHUNK_STREAMS);
  });

  it('rejects many half-sent large messages with ERR_RTMP_BUFFER_LIMIT', () => {
    const parts: Buffer[] = [];
    for (let csid = 3; csid < 20; csid++) {
      // 1 MiB declared, one 128-byte chunk sent, on each of 17 chunk streams.
      parts.push(Buffer.from([csid, 0, 0, 0, 0x10, 0, 0, 9, 1, 0, 0, 0]), Buffer.alloc(128, 0x17));
    }
    expect(parseError(Buffer.concat(parts), { maxBufferedBytes: 8 * 1024 * 1024 }).code).toBe(
      RtmpErrorCode.BUFFER_LIMIT,
    );
  });

  it('never throws anything but RtmpError on seeded garbage', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const parser = new ChunkParser({ onMessage: () => {} });
      try {
        parser.push(randomBytes(2000, seed));
      } catch (err) {
        expect(err).toBeInstanceOf(RtmpError);
      }
    }
  });
});
