import { describe, expect, it } from 'vitest';
import { ChunkParser } from './chunk-parser.js';
import { ChunkWriter, type OutgoingMessage } from './chunk-writer.js';
import { MessageType, type RtmpMessage } from './message-types.js';

const fmtOf = (bytes: Buffer): number => (bytes[0] as number) >> 6;

function video(timestampMs: number, length: number, streamId = 1): OutgoingMessage {
  return { typeId: MessageType.VIDEO, streamId, timestampMs, payload: Buffer.alloc(length, 7) };
}

describe('ChunkWriter picks the smallest correct header (RTMP 1.0 §5.3.1.2)', () => {
  it('type 0 first, type 1 on new length, type 2 on new delta, type 3 when the delta repeats', () => {
    const w = new ChunkWriter();
    const a = w.write(6, video(1000, 10));
    const b = w.write(6, video(1033, 12)); // length changed
    const c = w.write(6, video(1066, 12)); // same length, delta 33 repeats the type-1 delta 33
    const d = w.write(6, video(1100, 12)); // delta 34
    const e = w.write(6, video(1134, 12)); // delta 34 repeats
    expect([a, b, c, d, e].map(fmtOf)).toEqual([0, 1, 3, 2, 3]);
    expect([a, b, c, d, e].map((x) => x.length)).toEqual([1 + 11 + 10, 1 + 7 + 12, 1 + 12, 1 + 3 + 12, 1 + 12]);
  });

  it('type 0 when the timestamp goes backwards or the message stream changes', () => {
    const w = new ChunkWriter();
    w.write(6, video(1000, 10));
    expect(fmtOf(w.write(6, video(900, 10)))).toBe(0);
    expect(fmtOf(w.write(6, video(933, 10, 2)))).toBe(0);
  });

  it('never sends a type-3 message header right after a type 0 (receivers disagree on its delta)', () => {
    const w = new ChunkWriter();
    w.write(6, video(0, 10));
    expect(fmtOf(w.write(6, video(0, 10)))).toBe(2);
  });

  it('uses 2- and 3-byte basic headers and extended timestamps, repeated on continuation chunks', () => {
    const w = new ChunkWriter();
    const m = video(0x1234567, 300);
    const out = w.write(400, m);
    // 3-byte basic header, 11-byte message header, 4-byte extended timestamp, 128 bytes;
    // then 2 continuation chunks of 3 + 4 bytes of header each.
    expect(out.length).toBe(3 + 11 + 4 + 300 + 2 * (3 + 4));
    expect(out.readUIntBE(3, 3)).toBe(0xffffff);
    expect(out.readUInt32BE(14)).toBe(0x1234567);
    expect(out.readUInt32BE(3 + 11 + 4 + 128 + 3)).toBe(0x1234567);
  });

  it('round-trips through the parser for every header shape and chunk size', () => {
    for (const chunkSize of [1, 128, 4096]) {
      const w = new ChunkWriter();
      w.chunkSize = chunkSize;
      const sent: OutgoingMessage[] = [];
      const parts: Buffer[] = [];
      const timeline = [0, 33, 66, 100, 100, 90, 0xfffffe, 0x1000000 + 40, 0x1000000 + 80, 5];
      timeline.forEach((ts, i) => {
        const m = video(ts, 1 + ((i * 97) % 300), i < 8 ? 1 : 3);
        sent.push(m);
        parts.push(w.write(i % 2 === 0 ? 6 : 70, m));
      });
      const got: RtmpMessage[] = [];
      const p = new ChunkParser({ onMessage: (msg) => got.push(msg) });
      // The parser starts at 128-byte chunks; tell it the writer's size the way a peer would.
      const setSize = Buffer.from([2, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
      setSize.writeUInt32BE(chunkSize, 12);
      p.push(setSize);
      p.push(Buffer.concat(parts));
      expect(got.slice(1).map((g) => [g.timestampMs, g.streamId, g.payload.length])).toEqual(
        sent.map((s) => [s.timestampMs, s.streamId, s.payload.length]),
      );
    }
  });
});

describe('ChunkWriter into a caller buffer', () => {
  it('writes the same bytes into the given buffer when it fits, and a new buffer when not', () => {
    const plain = new ChunkWriter();
    const reusing = new ChunkWriter();
    plain.chunkSize = reusing.chunkSize = 4096;
    const scratch = Buffer.alloc(16 * 1024);
    for (const [i, length] of [100, 9000, 100, 30_000, 50].entries()) {
      const m = { ...video(i * 33, length), payload: Buffer.alloc(length, i + 1) };
      const expected = plain.write(6, m);
      const got = reusing.write(6, m, scratch);
      expect(got.equals(expected)).toBe(true);
      expect(got.buffer === scratch.buffer).toBe(expected.length <= scratch.length);
    }
  });
});
